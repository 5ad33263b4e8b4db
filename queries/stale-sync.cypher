// id: stale-sync
// title: Accounts whose last successful sync is too old
// description: Mimecast accounts in the graph whose last fully successful sync is older than max_age_hours (or that never had one), so the answers above may be out of date.
// frameworks: SOC 2 CC7.2; SOC 2 CC4.1
// severity: high
// version: 1
// population: accounts
// count: MATCH (a:MimecastAccount) WHERE $account IS NULL OR a.accountCode = $account RETURN count(a) AS total
// remediation: Check the sync job (CI schedule or daemon) and its last error in the sync summary; a failed tenant's account node says when it last failed.
// identity: account
// param: account = null | Only this account code; null for every account
// param: max_age_hours = 26 | Oldest acceptable successful sync, in hours
// param: as_of = null | ISO date-time to measure from; null for now
// columns: account, name, lastSuccessfulSync, lastSync, lastStatus
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
//   :param max_age_hours => 26
//   :param as_of => null
MATCH (a:MimecastAccount)
WHERE ($account IS NULL OR a.accountCode = $account)
  AND (a.lastSuccessfulSyncOn IS NULL
       OR datetime(a.lastSuccessfulSyncOn) < coalesce(datetime($as_of), datetime()) - duration({hours: $max_age_hours}))
RETURN a.accountCode AS account, a.name AS name, a.lastSuccessfulSyncOn AS lastSuccessfulSync,
       a.lastSyncOn AS lastSync, a.lastSyncStatus AS lastStatus
ORDER BY account
