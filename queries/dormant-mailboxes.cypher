// id: dormant-mailboxes
// title: Mailboxes that have sent nothing recently (access review)
// description: Internal mailboxes (aliases and the system addresses abuse@ and postmaster@ left out) whose last message Message Finder found is older than max_idle_days, or that have never been seen sending since activity tracking began ([connection.message_activity]). Only mailboxes whose activity has been checked are judged. Mimecast's API has no last-login time; the last message a mailbox sent is the next best sign of an account nobody uses.
// frameworks: SOC 2 CC6.2; SOC 2 CC6.3; ISO 27001 A.5.18; PCI DSS 8.2.6; HIPAA 164.308(a)(3)
// severity: medium
// version: 1
// population: mailboxes whose activity has been checked
// count: MATCH (u:MimecastUser) WHERE ($account IS NULL OR u.accountCode = $account) AND u.activityCheckedOn IS NOT NULL AND coalesce(u.alias, false) = false AND NOT split(u.email, '@')[0] IN $ignore_local_parts RETURN count(u) AS total
// remediation: Confirm with the owner's manager that the mailbox is still needed; disable a leaver's mailbox, or document a receive-only one.
// identity: email
// param: account = null | Only this account code; null for every account
// param: max_idle_days = 30 | Longest acceptable time since the last sent message, in days
// param: as_of = null | ISO date-time to measure from; null for now
// param: ignore_local_parts = ["abuse", "postmaster"] | Local parts of system addresses to leave out
// columns: account, email, name, lastMessageSent, checkedOn, reason
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
//   :param max_idle_days => 30
//   :param as_of => null
//   :param ignore_local_parts => ["abuse", "postmaster"]
MATCH (u:MimecastUser)
WHERE ($account IS NULL OR u.accountCode = $account)
  AND u.activityCheckedOn IS NOT NULL
  AND coalesce(u.alias, false) = false
  AND NOT split(u.email, '@')[0] IN $ignore_local_parts
  AND (u.lastMessageSentOn IS NULL
       OR datetime(u.lastMessageSentOn) < coalesce(datetime($as_of), datetime()) - duration({days: $max_idle_days}))
RETURN u.accountCode AS account, u.email AS email, u.name AS name, u.lastMessageSentOn AS lastMessageSent,
       u.activityCheckedOn AS checkedOn,
       CASE WHEN u.lastMessageSentOn IS NULL THEN 'never seen sending' ELSE 'idle' END AS reason
ORDER BY account, email
