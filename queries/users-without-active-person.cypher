// id: users-without-active-person
// title: Mimecast users that belong to no active person (access review)
// description: Internal Mimecast addresses that no active roster person matches: leavers' mailboxes, shared or forgotten accounts. Aliases and the system addresses Mimecast creates (abuse@, postmaster@) are left out by default. Only accounts with a roster are reviewed. lastMessageSent (with [connection.message_activity]) tells a leaver's live mailbox from a dead one.
// frameworks: SOC 2 CC6.2; SOC 2 CC6.3; ISO 27001 A.5.18; PCI DSS 8.2.6; HIPAA 164.308(a)(3); GDPR Art. 32(1)(b)
// severity: high
// version: 2
// population: reviewed Mimecast users
// count: MATCH (u:MimecastUser) WHERE ($account IS NULL OR u.accountCode = $account) AND ($include_aliases OR coalesce(u.alias, false) = false) AND NOT split(u.email, '@')[0] IN $ignore_local_parts AND EXISTS { MATCH (:Person {accountCode: u.accountCode}) } RETURN count(u) AS total
// remediation: Confirm who owns the address; disable a leaver's mailbox, document a shared one, or add the person to the roster.
// identity: email
// param: account = null | Only this account code; null for every account
// param: include_aliases = false | Also review Mimecast alias addresses
// param: ignore_local_parts = ["abuse", "postmaster"] | Local parts of system addresses to leave out
// columns: account, email, name, addressType, reason, lastMessageSent
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
//   :param include_aliases => false
//   :param ignore_local_parts => ["abuse", "postmaster"]
MATCH (u:MimecastUser)
WHERE ($account IS NULL OR u.accountCode = $account)
  AND ($include_aliases OR coalesce(u.alias, false) = false)
  AND NOT split(u.email, '@')[0] IN $ignore_local_parts
  AND EXISTS { MATCH (:Person {accountCode: u.accountCode}) }
  AND NOT EXISTS { MATCH (:Person {active: true})-[:IS]->(u) }
OPTIONAL MATCH (t:Person)-[:IS]->(u)
WITH u, count(t) AS terminated
RETURN u.accountCode AS account, u.email AS email, u.name AS name, u.addressType AS addressType,
       CASE WHEN terminated = 0 THEN 'no roster person' ELSE 'roster person is terminated' END AS reason,
       u.lastMessageSentOn AS lastMessageSent
ORDER BY account, email
