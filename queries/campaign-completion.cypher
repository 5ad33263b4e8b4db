// id: campaign-completion
// title: Completion and pass rate per training campaign
// description: For every Awareness Training campaign: how many internal users were assigned, how many completed it, how many passed (every answer correct), and the completion and pass rates in percent.
// frameworks: SOC 2 CC2.2; HIPAA 164.308(a)(5); PCI DSS 12.6; ISO 27001 A.6.3
// severity: info
// version: 2
// param: account = null | Only this account code; null for every account
// columns: account, campaign, campaignId, launched, assigned, completed, passed, completionRate, passRate
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
MATCH (a:MimecastAccount)-[:HAS]->(c:MimecastAwarenessCampaign)
WHERE $account IS NULL OR a.accountCode = $account
// Only users are assigned to or complete a campaign, so the counts are the campaign's
// degrees, which Neo4j keeps without reading the relationships.
WITH a, c, COUNT { (c)<-[:ASSIGNED]-() } AS assigned, COUNT { (c)<-[:COMPLETED]-() } AS completed,
     COUNT { (c)<-[done:COMPLETED]-() WHERE done.passed } AS passed
RETURN a.accountCode AS account, c.name AS campaign, c.id AS campaignId, c.launchDate AS launched, assigned, completed, passed,
       CASE WHEN assigned = 0 THEN 0.0 ELSE round(100.0 * completed / assigned, 1) END AS completionRate,
       CASE WHEN completed = 0 THEN 0.0 ELSE round(100.0 * passed / completed, 1) END AS passRate
ORDER BY account, launched, campaign
