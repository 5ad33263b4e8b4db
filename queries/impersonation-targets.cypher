// id: impersonation-targets
// title: Internal users most targeted by impersonation, with their SAFE risk
// description: Internal users who received messages Impersonation Protection flagged in the last `days` days, most attempts first, with how many were tagged malicious, when the last came and the user's SAFE risk grade.
// frameworks: SOC 2 CC3.2; SOC 2 CC7.2; ISO 27001 A.5.7; NIST CSF DE.AE-2
// severity: medium
// version: 1
// population: Mimecast users
// count: MATCH (u:MimecastUser) WHERE $account IS NULL OR u.accountCode = $account RETURN count(u) AS total
// remediation: Brief the targeted users on impersonation (payment and gift-card requests, look-alike domains), prioritise those with a poor SAFE grade, and check the flagged senders' domains are blocked.
// param: account = null | Only this account code; null for every account
// param: days = 30 | Attempts in this many days before as_of
// param: as_of = null | ISO date-time to measure from; null for now
// columns: account, email, attempts, malicious, lastAttemptOn, safeRisk
// identity: email
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
//   :param days => 30
//   :param as_of => null
MATCH (u:MimecastUser)-[:RECEIVED]->(i:MimecastImpersonation)
WHERE ($account IS NULL OR u.accountCode = $account)
  AND datetime(i.eventTime) >= coalesce(datetime($as_of), datetime()) - duration({days: $days})
WITH u, count(i) AS attempts, sum(CASE WHEN i.malicious THEN 1 ELSE 0 END) AS malicious, max(datetime(i.eventTime)) AS lastAttemptOn
RETURN u.accountCode AS account, u.email AS email, attempts, malicious, lastAttemptOn, u.safeRisk AS safeRisk
ORDER BY attempts DESC, malicious DESC, account, email
