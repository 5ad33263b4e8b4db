// id: malicious-attachment-recipients
// title: Internal users who received a malicious attachment
// description: Attachment Protection results of `malicious` in the last `days` days for internal users, with the file, and how many internal users received the same file (by SHA-256) in that time. One row per message.
// frameworks: SOC 2 CC7.2; SOC 2 CC7.3; ISO 27001 A.8.7; NIST CSF DE.CM-4
// severity: high
// version: 1
// population: attachment results for internal users
// count: MATCH (u:MimecastUser)-[:RECEIVED]->(a:MimecastAttachmentThreat) WHERE ($account IS NULL OR u.accountCode = $account) AND datetime(a.eventTime) >= coalesce(datetime($as_of), datetime()) - duration({days: $days}) RETURN count(a) AS total
// remediation: Confirm the message was blocked or held and not released; check the recipients' devices if it was released, and block the sender domain.
// param: account = null | Only this account code; null for every account
// param: days = 30 | Results in this many days before as_of
// param: as_of = null | ISO date-time to measure from; null for now
// columns: account, email, fileName, sha256, senderDomain, receivedOn, recipientsOfFile
// identity: email, sha256, receivedOn
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
//   :param days => 30
//   :param as_of => null
MATCH (u:MimecastUser)-[:RECEIVED]->(a:MimecastAttachmentThreat)
WHERE ($account IS NULL OR u.accountCode = $account)
  AND a.malicious
  AND datetime(a.eventTime) >= coalesce(datetime($as_of), datetime()) - duration({days: $days})
OPTIONAL MATCH (a)-[:CARRIES]->(f:MimecastFile)
OPTIONAL MATCH (f)<-[:CARRIES]-(other:MimecastAttachmentThreat)<-[:RECEIVED]-(v:MimecastUser)
WHERE other.malicious
  AND datetime(other.eventTime) >= coalesce(datetime($as_of), datetime()) - duration({days: $days})
WITH u, a, count(DISTINCT v) AS recipientsOfFile
RETURN u.accountCode AS account, u.email AS email, a.fileName AS fileName, a.fileHash AS sha256,
       a.senderDomain AS senderDomain, datetime(a.eventTime) AS receivedOn, recipientsOfFile
ORDER BY receivedOn, email
