// id: high-risk-safe-score
// title: Users whose SAFE risk grade is D or F
// description: Internal users whose Mimecast Awareness Training SAFE score risk grade is in the given grades, worst first.
// frameworks: SOC 2 CC1.4; SOC 2 CC3.2; ISO 27001 A.6.3; NIST CSF PR.AT-1
// severity: medium
// version: 1
// population: users with a SAFE score
// count: MATCH (u:MimecastUser) WHERE ($account IS NULL OR u.accountCode = $account) AND u.safeRisk IS NOT NULL RETURN count(u) AS total
// remediation: Enrol the user in targeted training and review their recent phishing results; re-check the grade after the next training cycle.
// identity: email
// param: account = null | Only this account code; null for every account
// param: grades = ["D", "F"] | Risk grades to report
// columns: account, email, name, risk, humanError, knowledge, person
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
//   :param grades => ["D", "F"]
MATCH (u:MimecastUser)
WHERE ($account IS NULL OR u.accountCode = $account) AND u.safeRisk IN $grades
OPTIONAL MATCH (p:Person)-[:IS]->(u)
WITH u, min(p.name) AS person
RETURN u.accountCode AS account, u.email AS email, u.name AS name, u.safeRisk AS risk,
       u.safeHumanError AS humanError, u.safeKnowledge AS knowledge, person
ORDER BY account, risk DESC, email
