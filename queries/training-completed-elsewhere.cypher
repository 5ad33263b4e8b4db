// id: training-completed-elsewhere
// title: Trainings recorded outside Mimecast's global campaigns
// description: Completions from [compliance] extra_completions (a targeted campaign the API cannot list, another LMS), with their source and whether they meet a requirement of the person's group. They count toward missing-required-training.
// frameworks: SOC 2 CC1.4; HIPAA 164.308(a)(5); ISO 27001 A.6.3
// severity: info
// version: 1
// param: account = null | Only this account code; null for every account
// columns: account, person, email, category, completedOn, source, required
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
MATCH (p:Person)-[done:COMPLETED]->(t:TrainingCategory)
WHERE $account IS NULL OR p.accountCode = $account
RETURN p.accountCode AS account, p.name AS person, p.email AS email, t.category AS category,
       done.completedOn AS completedOn, done.source AS source,
       t.category IN coalesce(p.requiredCategories, []) AS required
ORDER BY account, person, category
