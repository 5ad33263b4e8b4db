// id: clicked-malicious-not-retrained
// title: Users who clicked a real malicious or blocked link and have completed no training since
// description: Internal users whose click on a link URL Protection found malicious or blocked, in the last `days` days, was followed by no completed training. "Since" is the rule of phished-not-retrained: a completion counts when its campaign launched on or after the click, or when a sync first saw it after the click (and after the account, the user and the campaign were first seen). One row per click.
// frameworks: SOC 2 CC1.4; SOC 2 CC7.2; HIPAA 164.308(a)(5)(ii)(B); PCI DSS 12.6.3; ISO 27001 A.6.3; NIST CSF PR.AT-1
// severity: high
// version: 1
// population: malicious or blocked link clicks by internal users
// count: MATCH (u:MimecastUser)-[:CLICKED]->(c:MimecastUrlClick) WHERE ($account IS NULL OR u.accountCode = $account) AND (c.malicious OR c.action = 'block') AND datetime(c.eventTime) >= coalesce(datetime($as_of), datetime()) - duration({days: $days}) RETURN count(c) AS total
// remediation: Assign the user phishing-awareness training now and confirm it is completed; review what the link led to and whether credentials were entered.
// param: account = null | Only this account code; null for every account
// param: days = 30 | Clicks in this many days before as_of
// param: as_of = null | ISO date-time to measure from; null for now
// columns: account, email, url, action, overridden, clickedOn
// identity: email, url, clickedOn
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
//   :param days => 30
//   :param as_of => null
MATCH (u:MimecastUser)-[:CLICKED]->(c:MimecastUrlClick)
WHERE ($account IS NULL OR u.accountCode = $account)
  AND (c.malicious OR c.action = 'block')
  AND datetime(c.eventTime) >= coalesce(datetime($as_of), datetime()) - duration({days: $days})
WITH u, c, datetime(c.eventTime) AS clickedOn
WHERE NOT EXISTS {
  MATCH (u)-[d:COMPLETED]->(t:MimecastAwarenessCampaign)
  WHERE t.launchDate >= clickedOn
     OR (d._firstSeenOn > clickedOn
         AND d._firstSeenOn > t._firstSeenOn AND d._firstSeenOn > u._firstSeenOn
         AND EXISTS {
           MATCH (a:MimecastAccount {accountCode: u.accountCode})
           WHERE d._firstSeenOn > a._firstSeenOn
         })
}
RETURN u.accountCode AS account, u.email AS email, c.url AS url, c.action AS action,
       c.overridden AS overridden, clickedOn
ORDER BY clickedOn, email
