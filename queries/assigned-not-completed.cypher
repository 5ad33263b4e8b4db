// id: assigned-not-completed
// title: Training assigned but not completed, oldest first
// description: Internal users enrolled in a training campaign who have recorded no answer for it, oldest campaign launch first, with the roster person when one matches. A finding is identified by the campaign id, so a renamed campaign keeps its findings in `queries diff` (version 2; version 1 used the name).
// frameworks: SOC 2 CC2.2; HIPAA 164.308(a)(5); PCI DSS 12.6; ISO 27001 A.6.3; GDPR Art. 39(1)(b)
// severity: medium
// version: 2
// population: training assignments
// count: MATCH (c:MimecastAwarenessCampaign) WHERE $account IS NULL OR c.accountCode = $account RETURN coalesce(sum(COUNT { (c)<-[:ASSIGNED]-() }), 0) AS total
// remediation: Remind the user to complete the campaign; escalate to their manager when the campaign launched long ago.
// identity: campaignId, email
// param: account = null | Only this account code; null for every account
// columns: account, campaign, campaignId, launched, email, person
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
// The open assignments come from the relationship index on `completed` (every user's
// completions need not be read); the count reads each campaign's degree (only users
// are assigned to a campaign).
MATCH (u:MimecastUser)-[r:ASSIGNED]->(c:MimecastAwarenessCampaign)
USING INDEX r:ASSIGNED(completed)
WHERE r.completed = false AND ($account IS NULL OR r.accountCode = $account)
WITH u, collect(c) AS open
OPTIONAL MATCH (p:Person)-[:IS]->(u)
WITH u, open, min(p.name) AS person
UNWIND open AS c
RETURN u.accountCode AS account, c.name AS campaign, c.id AS campaignId, c.launchDate AS launched, u.email AS email,
       person
ORDER BY launched, campaign, email
