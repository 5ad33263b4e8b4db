//! Phishing campaigns: who got which template, how far each got, who reported it,
//! and the rows the campaign lists report.

use super::*;

/// One recipient's outcome in one phishing campaign.
pub(super) struct Outcome {
    pub(super) person: u32,
    pub(super) template: u8,
    /// 0 sent, 1 opened, 2 clicked, 3 submitted.
    pub(super) stage: u8,
    pub(super) reported: bool,
    pub(super) case: u8,
    pub(super) ip: u8,
    pub(super) scheduled: i64,
    pub(super) opened: i64,
    pub(super) clicked: i64,
    pub(super) submitted: i64,
    pub(super) reported_at: i64,
}

pub(super) struct Phishing {
    pub(super) record: Value,
    pub(super) rows: Vec<Outcome>,
}

/// Decides every phishing campaign (sequentially: rows report totals across campaigns).
pub(super) fn decide_phishing(
    spec: &GenerateSpec,
    everyone: &mut [Person],
    internal: usize,
    slug: &str,
) -> Vec<Phishing> {
    let mut rng = SplitMix64::derive(spec.seed, S_PHISHING);
    let root_group = secure_id(&mut rng, "eNo");
    let mut out = Vec::with_capacity(spec.phishing);
    for p in 0..spec.phishing {
        let launch = launch_offset(&mut rng, p, spec.phishing, 21);
        let enroll = 0.3 + 0.6 * rng.next_f64();
        let first_template = rng.below(PHISH_TEMPLATES.len() as u64) as usize;
        let template_count = rng.range(1, 2) as usize;
        let mut rows = Vec::with_capacity((everyone.len() as f64 * enroll) as usize + everyone.len() - internal);
        for (i, person) in everyone.iter_mut().enumerate() {
            if i < internal && !rng.chance(enroll) {
                continue;
            }
            let template = (first_template + rng.below(template_count as u64) as usize) % PHISH_TEMPLATES.len();
            let mut stage = 0u8;
            if rng.chance(0.6) {
                stage = 1;
                if rng.chance(0.3) {
                    stage = 2;
                    if rng.chance(0.35) {
                        stage = 3;
                    }
                }
            }
            let reported = match stage {
                0 => false,
                1 => rng.chance(0.25),
                _ => rng.chance(0.05),
            };
            let scheduled = launch + rng.below(120) as i64 * 60;
            let opened = scheduled + rng.range(60, 36_000) as i64;
            let clicked = opened + rng.range(5, 300) as i64;
            let submitted = clicked + rng.range(10, 180) as i64;
            let reported_at = if stage >= 2 { clicked } else { opened } + rng.range(30, 7200) as i64;
            person.phish_sent += 1;
            if stage >= 2 {
                person.phish_clicked += 1;
            }
            rows.push(Outcome {
                person: i as u32,
                template: template as u8,
                stage,
                reported,
                case: if i < internal { pick_case(&mut rng) } else { 0 },
                ip: rng.range(1, 254) as u8,
                scheduled,
                opened,
                clicked,
                submitted,
                reported_at,
            });
        }

        let templates: Vec<Value> = (0..template_count)
            .map(|t| {
                let title = PHISH_TEMPLATES[(first_template + t) % PHISH_TEMPLATES.len()].0;
                json!({"id": secure_id(&mut rng, "eNo"), "displayTitle": title})
            })
            .collect();
        let (lead_title, sender_name, mailbox) = PHISH_TEMPLATES[first_template];
        let when = date(launch);
        let quarter = (when[5..7].parse::<u32>().unwrap_or(1) - 1) / 3 + 1;
        let name = format!("Q{quarter} {} Phish Test - {lead_title}", &when[..4]);
        let count = |f: &dyn Fn(&Outcome) -> bool| rows.iter().filter(|o| f(o)).count();
        let landing = *rng.pick(LANDING_PAGES);
        let record = json!({
            "id": secure_id(&mut rng, "eNo"),
            "name": name,
            "templates": templates,
            "sender": {
                "name": sender_name,
                "email": format!("{mailbox}@{slug}-secure-mail.example.net"),
            },
            "group": group(&mut rng, &root_group, "All Staff", count(&|o| (o.person as usize) < internal)),
            "landingPage": {"id": secure_id(&mut rng, "eNo"), "name": landing},
            "launchDate": when,
            "locale": "en",
            "timeSlotSelected": format!("TZ{}", rng.range(1, 4)),
            "locked": false,
            "numSent": rows.len(),
            "numOpened": count(&|o| o.stage >= 1),
            "numClicked": count(&|o| o.stage >= 2),
            "numSubmitted": count(&|o| o.stage >= 3),
            "numReported": count(&|o| o.reported),
        });
        out.push(Phishing { record, rows });
    }
    out
}

/// The `phishing/campaign/get-user-data` rows of one phishing campaign.
pub(super) fn phishing_rows(c: &Phishing, everyone: &[Person]) -> Vec<Value> {
    c.rows
        .iter()
        .map(|o| {
            let p = &everyone[o.person as usize];
            let status = ["sent", "opened", "clicked", "submitted"][usize::from(o.stage)];
            let at = |reached: bool, t: i64| if reached { Value::String(date(t)) } else { Value::Null };
            let reaction = if o.stage >= 2 {
                Value::from(o.clicked - o.opened)
            } else if o.reported {
                Value::from(o.reported_at - o.opened)
            } else {
                Value::Null
            };
            obj([
                ("name", text(&p.name)),
                ("email", Value::String(spelled(&p.email, o.case))),
                ("department", text(p.department)),
                ("userState", text("ACTIVE")),
                ("templateName", text(PHISH_TEMPLATES[usize::from(o.template)].0)),
                ("status", text(status)),
                ("numCampaignsSent", Value::from(p.phish_sent)),
                ("numCampaignsClicked", Value::from(p.phish_clicked)),
                ("numTrainingModulesAssigned", Value::from(p.assigned)),
                ("numCorrectAnswers", Value::from(p.correct_answers)),
                ("numIncorrectAnswers", Value::from(p.incorrect_answers)),
                ("timeScheduled", Value::String(date(o.scheduled))),
                ("timeOpened", at(o.stage >= 1, o.opened)),
                ("timeClicked", at(o.stage >= 2, o.clicked)),
                ("timeSubmitted", at(o.stage >= 3, o.submitted)),
                ("timeReported", at(o.reported, o.reported_at)),
                (
                    "clickedIp",
                    if o.stage >= 2 {
                        Value::String(format!("203.0.113.{}", o.ip))
                    } else {
                        Value::Null
                    },
                ),
                ("reactionTime", reaction),
                ("numCampaignsScanned", Value::from(0)),
                ("numCampaignsClickedScanned", Value::from(0)),
                ("timeScanned", Value::Null),
            ])
        })
        .collect()
}
