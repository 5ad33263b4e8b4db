// id: active-without-account
// title: Active people with no Mimecast user
// description: Active roster people whose address matches no internal Mimecast user: they cannot be enrolled in training or phishing tests, or the roster spells their address differently.
// frameworks: SOC 2 CC2.2; ISO 27001 A.6.3
// severity: medium
// version: 1
// population: active people
// count: MATCH (p:Person {active: true}) WHERE $account IS NULL OR p.accountCode = $account RETURN count(p) AS total
// remediation: Create the person's Mimecast user, or correct the roster address (or add a domain alias) so it matches the user they have.
// identity: email
// param: account = null | Only this account code; null for every account
// columns: account, person, email, group
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
MATCH (p:Person {active: true})
WHERE ($account IS NULL OR p.accountCode = $account) AND NOT (p)-[:IS]->(:MimecastUser)
RETURN p.accountCode AS account, p.name AS person, p.email AS email, p.group AS group
ORDER BY account, person
