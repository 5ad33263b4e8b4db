//! Training campaigns: who is enrolled, who finished, their answers, and the rows
//! the campaign lists report.

use super::*;

/// One training campaign, decided: the record without its rows, and who got what.
pub(super) struct Training {
    pub(super) record: Value,
    pub(super) questions: usize,
    pub(super) rows: Vec<Enrollment>,
}

/// One enrolled address: answers as a bitmask of correct questions (meaningful only
/// when `done`), and how the list spells the address.
pub(super) struct Enrollment {
    pub(super) person: u32,
    pub(super) done: bool,
    pub(super) correct: u8,
    pub(super) case: u8,
}

/// Decides every training campaign (sequentially: the per-person tallies that
/// later records report add up across campaigns). Rows are built later, in parallel.
pub(super) fn decide_training(spec: &GenerateSpec, everyone: &mut [Person], internal: usize) -> Vec<Training> {
    let mut rng = SplitMix64::derive(spec.seed, S_TRAINING);
    let root_group = secure_id(&mut rng, "eNo");
    let externals = everyone.len() - internal;
    let mut out = Vec::with_capacity(spec.campaigns);
    for c in 0..spec.campaigns {
        let base = TRAINING_NAMES[c % TRAINING_NAMES.len()];
        let round = c / TRAINING_NAMES.len();
        let name = if round == 0 {
            base.to_owned()
        } else {
            format!("{base} {}", round + 1)
        };
        let questions = rng.range(1, 4) as usize;
        let launch = launch_offset(&mut rng, c, spec.campaigns, 0);
        let created = launch - rng.range(300, 3 * 86_400) as i64;
        let enroll = 0.3 + 0.6 * rng.next_f64();
        let complete = 0.45 + 0.5 * rng.next_f64();
        let p_correct = 0.65 + 0.3 * rng.next_f64();

        let mut rows = Vec::with_capacity((everyone.len() as f64 * enroll) as usize + externals);
        let mut completed = 0u64;
        let mut correct_total = 0u64;
        let mut per_question = vec![0u64; questions];
        for (i, p) in everyone.iter_mut().enumerate() {
            let external = i >= internal;
            if !external && !rng.chance(enroll) {
                continue;
            }
            let done = rng.chance(if external { 0.2 } else { complete });
            let mut correct = 0u8;
            if done {
                for (q, hits) in per_question.iter_mut().enumerate() {
                    if rng.chance(p_correct) {
                        correct |= 1 << q;
                        *hits += 1;
                    }
                }
            }
            let right = correct.count_ones();
            let wrong = questions as u32 - right;
            if done {
                completed += 1;
                correct_total += u64::from(right);
            }
            if !external {
                p.assigned += 1;
                if !done {
                    p.not_watched += 1;
                } else if wrong == 0 {
                    p.all_correct += 1;
                } else {
                    p.some_incorrect += 1;
                }
                if done {
                    p.correct_answers += right;
                    p.incorrect_answers += wrong;
                }
            }
            rows.push(Enrollment {
                person: i as u32,
                done,
                correct,
                // Outside addresses keep one spelling, as the recorded gmail one does.
                case: if external { 0 } else { pick_case(&mut rng) },
            });
        }
        let sent = rows.len() as u64;
        let title = base.replace(' ', "_");
        let correct_answers: Map<String, Value> = (1..=questions)
            .map(|q| (format!("forQuestion{q}"), Value::from(rng.range(1, 4))))
            .collect();
        let num_correct: Map<String, Value> = per_question
            .iter()
            .enumerate()
            .map(|(q, n)| (format!("forQuestion{}", q + 1), Value::from(*n)))
            .collect();
        let record = json!({
            "id": secure_id(&mut rng, "eNq"),
            "name": name,
            "title": {
                "id": secure_id(&mut rng, "eNq"),
                "title": title,
                "titleForCustomModule": false,
                "correctAnswers": correct_answers,
                "defaultGifs": {
                    "correctGif": format!("http://i.giphy.com/{}.gif", &secure_id(&mut rng, "")[..18]),
                    "incorrectGif": format!("http://i.giphy.com/{}.gif", &secure_id(&mut rng, "")[..18]),
                },
            },
            "group": group(&mut rng, &root_group, "All Staff", rows.len() - externals),
            "launchDate": date(launch),
            "createDate": date(created),
            "emailCustomized": false,
            "emailMsg": {
                "subject": format!("Security Awareness Module | {base}"),
                "body": format!(
                    "Hi [name],<br><br>Here's a security training module for you to complete.<br><br>[videoposter]<br><br>Click [platformlink] to watch \"{base}\". Then answer the knowledge question to complete your training experience.<br><br>Enjoy.<br><br>"
                ),
            },
            "numSent": sent,
            "numCompleted": completed,
            "allOtherCampaigns": {},
            "locked": false,
            "percentComplete": percent(completed, sent),
            "percentCorrect": percent(correct_total, completed * questions as u64),
            "numCorrectAnswers": num_correct,
        });
        out.push(Training {
            record,
            questions,
            rows,
        });
    }
    out
}

/// The `campaign/get-user-data` rows of one training campaign.
pub(super) fn training_rows(t: &Training, everyone: &[Person]) -> Vec<Value> {
    t.rows
        .iter()
        .map(|e| {
            let p = &everyone[e.person as usize];
            let results: Map<String, Value> = (0..t.questions)
                .map(|q| {
                    let result = if !e.done {
                        "SENT"
                    } else if e.correct & (1 << q) != 0 {
                        "CORRECT"
                    } else {
                        "INCORRECT"
                    };
                    (format!("forQuestion{}", q + 1), text(result))
                })
                .collect();
            obj([
                ("name", text(&p.name)),
                ("email", Value::String(spelled(&p.email, e.case))),
                ("department", text(p.department)),
                ("results", Value::Object(results)),
                ("acknowledgement", Value::Bool(false)),
                ("userState", text("ACTIVE")),
            ])
        })
        .collect()
}
