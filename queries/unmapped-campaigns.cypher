// id: unmapped-campaigns
// title: Training campaigns mapped to no category
// description: Awareness Training campaigns that the configuration's campaign_categories maps to no training category, so they count toward no requirement.
// frameworks: SOC 2 CC2.2
// severity: low
// version: 1
// population: training campaigns
// count: MATCH (a:MimecastAccount)-[:HAS]->(c:MimecastAwarenessCampaign) WHERE $account IS NULL OR a.accountCode = $account RETURN count(c) AS total
// remediation: Map the campaign to its training categories in the configuration's campaign_categories, or confirm it covers none.
// identity: id
// param: account = null | Only this account code; null for every account
// columns: account, campaign, id, launched
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
MATCH (a:MimecastAccount)-[:HAS]->(c:MimecastAwarenessCampaign)
WHERE ($account IS NULL OR a.accountCode = $account) AND NOT (c)-[:COVERS]->(:TrainingCategory)
RETURN a.accountCode AS account, c.name AS campaign, c.id AS id, c.launchDate AS launched
ORDER BY account, launched, campaign
