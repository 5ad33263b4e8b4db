// id: siem-detections-not-retrained
// title: Users a real malicious message reached (SIEM detections) who have completed no training since
// description: Internal users among the recipients of a malicious SIEM batch detection (av, attachment protect, url protect, impersonation protect tagged malicious) in the last `days` days whose detection was followed by no completed training. "Since" is the rule of clicked-malicious-not-retrained. One row per detection and user.
// frameworks: SOC 2 CC1.4; SOC 2 CC7.2; HIPAA 164.308(a)(5)(ii)(B); PCI DSS 12.6.3; ISO 27001 A.6.3; NIST CSF PR.AT-1
// severity: high
// version: 1
// population: malicious SIEM detections received by internal users
// count: MATCH (u:MimecastUser)-[:RECEIVED]->(s:MimecastSiemDetection) WHERE ($account IS NULL OR u.accountCode = $account) AND s.malicious AND datetime(s.eventTime) >= coalesce(datetime($as_of), datetime()) - duration({days: $days}) RETURN count(*) AS total
// remediation: Assign the user awareness training on the threat that reached them (links, attachments, impersonation) and confirm it is completed; check what the message led to.
// param: account = null | Only this account code; null for every account
// param: days = 30 | Detections in this many days before as_of
// param: as_of = null | ISO date-time to measure from; null for now
// columns: account, email, eventType, severity, indicator, detectedOn
// identity: email, eventType, indicator, detectedOn
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
//   :param days => 30
//   :param as_of => null
MATCH (u:MimecastUser)-[:RECEIVED]->(s:MimecastSiemDetection)
WHERE ($account IS NULL OR u.accountCode = $account)
  AND s.malicious
  AND datetime(s.eventTime) >= coalesce(datetime($as_of), datetime()) - duration({days: $days})
WITH u, s, datetime(s.eventTime) AS detectedOn
WHERE NOT EXISTS {
  MATCH (u)-[d:COMPLETED]->(t:MimecastAwarenessCampaign)
  WHERE t.launchDate >= detectedOn
     OR (d._firstSeenOn > detectedOn
         AND d._firstSeenOn > t._firstSeenOn AND d._firstSeenOn > u._firstSeenOn
         AND EXISTS {
           MATCH (a:MimecastAccount {accountCode: u.accountCode})
           WHERE d._firstSeenOn > a._firstSeenOn
         })
}
RETURN u.accountCode AS account, u.email AS email, s.eventType AS eventType, s.severity AS severity,
       coalesce(s.url, s.fileHash, s.senderDomain) AS indicator, detectedOn
ORDER BY detectedOn, email, eventType
