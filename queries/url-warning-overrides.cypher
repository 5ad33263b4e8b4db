// id: url-warning-overrides
// title: Users who continued past a URL Protection warning
// description: Clicks in the last `days` days where URL Protection warned the internal user and the user chose to continue to the site (userOverride other than None). One row per click.
// frameworks: SOC 2 CC1.4; SOC 2 CC7.2; ISO 27001 A.6.3; NIST CSF PR.AT-1
// severity: medium
// version: 1
// population: URL Protection warnings shown to internal users
// count: MATCH (u:MimecastUser)-[:CLICKED]->(c:MimecastUrlClick) WHERE ($account IS NULL OR u.accountCode = $account) AND c.action = 'warn' AND datetime(c.eventTime) >= coalesce(datetime($as_of), datetime()) - duration({days: $days}) RETURN count(c) AS total
// remediation: Review the site the user reached; consider blocking instead of warning for the URL category, and train the user on warning pages.
// param: account = null | Only this account code; null for every account
// param: days = 30 | Clicks in this many days before as_of
// param: as_of = null | ISO date-time to measure from; null for now
// columns: account, email, url, scanResult, category, userOverride, clickedOn
// identity: email, url, clickedOn
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
//   :param days => 30
//   :param as_of => null
MATCH (u:MimecastUser)-[:CLICKED]->(c:MimecastUrlClick)
WHERE ($account IS NULL OR u.accountCode = $account)
  AND c.overridden
  AND datetime(c.eventTime) >= coalesce(datetime($as_of), datetime()) - duration({days: $days})
RETURN u.accountCode AS account, u.email AS email, c.url AS url, c.scanResult AS scanResult,
       c.category AS category, c.userOverride AS userOverride, datetime(c.eventTime) AS clickedOn
ORDER BY clickedOn, email
