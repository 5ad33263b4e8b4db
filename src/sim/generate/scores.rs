//! SAFE scores, performance and watchlist rows.

use super::*;

pub(super) fn grade(rng: &mut SplitMix64, base: f64) -> &'static str {
    let g = (base + rng.next_f64() * 1.5 - 0.5).round().clamp(0.0, 4.0);
    GRADES[g as usize]
}

/// SAFE scores for about 90% of the people, performance rows for everyone with a
/// training module, watchlist rows for people with two or more unwatched modules
/// (and half of those with one).
pub(super) fn scores(spec: &GenerateSpec, people: &[Person]) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let mut rng = SplitMix64::derive(spec.seed, S_SCORES);
    let mut safe = Vec::with_capacity(people.len());
    let mut performance = Vec::with_capacity(people.len());
    let mut watchlist = Vec::new();
    for p in people {
        if rng.chance(0.9) {
            // Grades as indices 0 (A) to 4 (F): clicks drive human error, answers
            // drive knowledge, finishing modules drives engagement.
            let human_error = (f64::from(p.phish_clicked) * 1.2).min(4.0);
            let answered = p.correct_answers + p.incorrect_answers;
            let knowledge = if answered == 0 {
                3.0
            } else {
                4.0 * f64::from(p.incorrect_answers) / f64::from(answered)
            };
            let engagement = if p.assigned == 0 {
                2.0
            } else {
                4.0 * f64::from(p.not_watched) / f64::from(p.assigned)
            };
            let sentiment = rng.next_f64() * 2.0;
            let risk = (human_error * 2.0 + knowledge + engagement + sentiment) / 5.0;
            safe.push(obj([
                ("emailAddress", Value::String(spelled(&p.email, pick_case(&mut rng)))),
                ("name", text(&p.name)),
                ("department", text(p.department)),
                ("risk", text(grade(&mut rng, risk))),
                ("humanError", text(grade(&mut rng, human_error))),
                ("sentiment", text(grade(&mut rng, sentiment))),
                ("engagement", text(grade(&mut rng, engagement))),
                ("knowledge", text(grade(&mut rng, knowledge))),
                ("userState", text("ACTIVE")),
            ]));
        }
        if p.assigned > 0 {
            performance.push(obj([
                ("email", Value::String(spelled(&p.email, pick_case(&mut rng)))),
                ("name", text(&p.name)),
                ("department", text(p.department)),
                ("numCorrect", Value::from(p.all_correct)),
                ("numIncorrect", Value::from(p.some_incorrect)),
                ("numNotWatched", Value::from(p.not_watched)),
                ("userState", text("ACTIVE")),
                ("userDetails", Value::Object(Map::new())),
            ]));
        }
        if p.not_watched >= 2 || (p.not_watched == 1 && rng.chance(0.5)) {
            watchlist.push(obj([
                ("email", Value::String(spelled(&p.email, pick_case(&mut rng)))),
                ("name", text(&p.name)),
                ("department", text(p.department)),
                ("watchlistCount", Value::from(p.not_watched)),
                ("userState", text("ACTIVE")),
            ]));
        }
    }
    (safe, performance, watchlist)
}
