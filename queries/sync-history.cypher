// id: sync-history
// title: Recorded syncs, newest first
// description: Every sync of each account that the graph remembers ([sync] history_runs, default 100 per account): when it ran, how it ended, what it created, changed and deleted, what it cost in Mimecast API requests and throttling, and how many findings the saved rules had after it.
// frameworks: SOC 2 CC7.2; SOC 2 CC4.1
// severity: info
// version: 1
// param: account = null | Only this account code; null for every account
// param: limit = 100 | At most this many syncs
// columns: account, syncId, started, ended, status, created, changed, deleted, apiRequests, throttleWaitMs, findings
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
//   :param limit => 100
MATCH (a:MimecastAccount)-[:HAS_SYNC_RUN]->(r:MimecastSyncRun)
WHERE $account IS NULL OR a.accountCode = $account
RETURN a.accountCode AS account, r.syncId AS syncId, r.startedOn AS started, r.endedOn AS ended, r.status AS status,
       r.created AS created, r.updated AS changed, r.deleted AS deleted, r.apiRequests AS apiRequests,
       r.throttleWaitMs AS throttleWaitMs, r.findingsTotal AS findings
ORDER BY r.recordedMs DESC, account
LIMIT $limit
