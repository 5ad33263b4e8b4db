// id: terminated-with-account
// title: Terminated people who still have a Mimecast user
// description: Roster people marked terminated whose address still exists as an internal Mimecast user.
// frameworks: SOC 2 CC6.2; SOC 2 CC6.3; ISO 27001 A.5.18; PCI DSS 8.2.6; HIPAA 164.308(a)(3)(ii)(C); GDPR Art. 32(1)(b)
// severity: critical
// version: 1
// population: terminated people
// count: MATCH (p:Person {active: false}) WHERE $account IS NULL OR p.accountCode = $account RETURN count(p) AS total
// remediation: Disable or remove the Mimecast user (and the mailbox behind it) as part of offboarding, or correct the roster if the person is still employed.
// identity: personEmail, mimecastEmail
// param: account = null | Only this account code; null for every account
// columns: account, person, personEmail, mimecastEmail, matchedBy
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
MATCH (p:Person {active: false})-[link:IS]->(u:MimecastUser)
WHERE $account IS NULL OR p.accountCode = $account
RETURN p.accountCode AS account, p.name AS person, p.email AS personEmail, u.email AS mimecastEmail, link.matchedBy AS matchedBy
ORDER BY account, person, mimecastEmail
