// id: phished-not-retrained
// title: Phishing clickers or submitters with no training completed since
// description: Users who clicked a phishing test link or submitted data, and have completed no training since. Mimecast reports no completion time, so a completion counts when its campaign launched on or after the failure, or when a sync first saw it after the failure and after the account, the user and the campaign were first seen (exact to within one sync interval). A finding is identified by the user and the phishing campaign id, so a renamed campaign keeps its findings in `queries diff` (version 2; version 1 used the name).
// frameworks: SOC 2 CC1.4; SOC 2 CC2.2; HIPAA 164.308(a)(5)(ii)(B); PCI DSS 12.6.3; ISO 27001 A.6.3
// severity: high
// version: 2
// population: phishing clicks or submissions
// count: CALL () { MATCH (u:MimecastUser)-[r:ASSIGNED]->(:MimecastPhishingCampaign) USING INDEX r:ASSIGNED(clicked) WHERE r.clicked = true RETURN u, r UNION MATCH (u:MimecastUser)-[r:ASSIGNED]->(:MimecastPhishingCampaign) USING INDEX r:ASSIGNED(submitted) WHERE r.submitted = true RETURN u, r } WITH u, r WHERE $account IS NULL OR u.accountCode = $account RETURN count(r) AS total
// remediation: Assign remedial phishing-awareness training to the user and confirm it is completed.
// identity: email, phishingCampaignId
// param: account = null | Only this account code; null for every account
// columns: account, email, phishingCampaign, phishingCampaignId, action, failedOn
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
// The failures come from the relationship index on awaitingRetraining: the sync marks
// it false on a failure that a completed training launched on or after it already
// answers, so only the others have their completions read here (the time a sync first
// saw a completion is known only to the graph).
MATCH (u:MimecastUser)-[r:ASSIGNED]->(ph:MimecastPhishingCampaign)
USING INDEX r:ASSIGNED(awaitingRetraining)
WHERE r.awaitingRetraining = true AND ($account IS NULL OR r.accountCode = $account)
WITH u, ph, r, coalesce(r.clickedOn, r.submittedOn, ph.launchDate) AS failedOn
WHERE NOT EXISTS {
  MATCH (u)-[c:COMPLETED]->(t:MimecastAwarenessCampaign)
  WHERE t.launchDate >= failedOn
     OR (c._firstSeenOn > failedOn
         AND c._firstSeenOn > t._firstSeenOn AND c._firstSeenOn > u._firstSeenOn
         AND EXISTS {
           MATCH (a:MimecastAccount {accountCode: u.accountCode})
           WHERE c._firstSeenOn > a._firstSeenOn
         })
}
RETURN u.accountCode AS account, u.email AS email, ph.name AS phishingCampaign, ph.id AS phishingCampaignId,
       CASE WHEN r.submitted THEN 'submitted' ELSE 'clicked' END AS action, failedOn
ORDER BY failedOn, email, phishingCampaign
