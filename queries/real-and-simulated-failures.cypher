// id: real-and-simulated-failures
// title: People who failed a phishing simulation and were also hit by a real threat
// description: Internal users who clicked or submitted in a phishing simulation and, in the last `days` days, clicked a malicious link, received a malicious attachment or received a message tagged as malicious impersonation: the people simulations say are at risk, whom attackers are reaching.
// frameworks: SOC 2 CC1.4; SOC 2 CC3.2; HIPAA 164.308(a)(5)(ii)(B); ISO 27001 A.6.3; NIST CSF PR.AT-1
// severity: high
// version: 1
// population: users who failed a phishing simulation
// count: CALL () { MATCH (u:MimecastUser)-[r:ASSIGNED]->(:MimecastPhishingCampaign) USING INDEX r:ASSIGNED(clicked) WHERE r.clicked = true RETURN u, r UNION MATCH (u:MimecastUser)-[r:ASSIGNED]->(:MimecastPhishingCampaign) USING INDEX r:ASSIGNED(submitted) WHERE r.submitted = true RETURN u, r } WITH u, r WHERE $account IS NULL OR u.accountCode = $account RETURN count(DISTINCT u) AS total
// remediation: Give these users targeted training first, and consider stricter URL and attachment policies for them until their SAFE score improves.
// param: account = null | Only this account code; null for every account
// param: days = 30 | Real threats in this many days before as_of
// param: as_of = null | ISO date-time to measure from; null for now
// columns: account, email, simulations, realThreats, lastRealThreatOn, safeRisk
// identity: email
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
//   :param days => 30
//   :param as_of => null
MATCH (u:MimecastUser)-[:CLICKED|RECEIVED]->(f:Finding)
WHERE ($account IS NULL OR u.accountCode = $account)
  AND f.malicious
  AND datetime(f.eventTime) >= coalesce(datetime($as_of), datetime()) - duration({days: $days})
WITH u, count(f) AS realThreats, max(datetime(f.eventTime)) AS lastRealThreatOn
MATCH (u)-[r:ASSIGNED]->(ph:MimecastPhishingCampaign)
WHERE r.clicked OR r.submitted
WITH u, realThreats, lastRealThreatOn,
     collect(DISTINCT ph.name + ' (' + CASE WHEN r.submitted THEN 'submitted' ELSE 'clicked' END + ')') AS simulations
RETURN u.accountCode AS account, u.email AS email, simulations, realThreats, lastRealThreatOn, u.safeRisk AS safeRisk
ORDER BY realThreats DESC, account, email
