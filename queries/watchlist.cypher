// id: watchlist
// title: Users on the Awareness Training watchlist
// description: Users Mimecast put on the watchlist because training modules stayed unwatched after repeated reminders.
// frameworks: SOC 2 CC2.2; ISO 27001 A.6.3
// severity: medium
// version: 1
// population: Mimecast users
// count: MATCH (u:MimecastUser) WHERE $account IS NULL OR u.accountCode = $account RETURN count(u) AS total
// remediation: Follow up with the user (and their manager) until the outstanding modules are watched.
// identity: email
// param: account = null | Only this account code; null for every account
// columns: account, email, name, watchlistCount, notWatched
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
MATCH (u:MimecastUser)
WHERE ($account IS NULL OR u.accountCode = $account) AND u.onWatchlist = true
RETURN u.accountCode AS account, u.email AS email, u.name AS name, u.watchlistCount AS watchlistCount,
       u.trainingNotWatched AS notWatched
ORDER BY account, watchlistCount DESC, email
