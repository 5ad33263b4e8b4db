// id: assigned-not-completed
// title: Training assigned but not completed, oldest first
// description: Internal users enrolled in training campaigns for which they have recorded no answer: one row per user, with the user's name, how many campaigns are open, the oldest open launch and the open campaigns' names (oldest launch first); the oldest open launch first. The sync counts each user's assignments from every campaign's enrollments (`openTrainingCount`, `openTrainings`, `openTrainingOrder` on the user), so the answer reads one row per user, not one per assignment (version 3; version 2 listed one row per open assignment, identified by campaign id and email, with the roster person).
// frameworks: SOC 2 CC2.2; HIPAA 164.308(a)(5); PCI DSS 12.6; ISO 27001 A.6.3; GDPR Art. 39(1)(b)
// severity: medium
// version: 3
// population: users with training assignments
// count: MATCH (u:MimecastUser) WHERE ($account IS NULL OR u.accountCode = $account) AND u.assignedTrainingCount > 0 RETURN count(u) AS total
// remediation: Remind the user to complete the campaigns; escalate to their manager when a campaign launched long ago.
// identity: email
// param: account = null | Only this account code; null for every account
// columns: account, email, name, open, oldestLaunched, campaigns
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
// Each assignment is one `[:ASSIGNED]` relationship with `completed`; this reads the
// counts the sync keeps on the user instead (one row per user). The users are read in
// order from the index on (`openTrainingOrder`, `email`): the oldest open launch, or
// "undated" after every date. Nothing sorts all rows, so the first ones are sent at once.
MATCH (u:MimecastUser)
WHERE u.openTrainingOrder IS NOT NULL AND u.email IS NOT NULL
  AND ($account IS NULL OR u.accountCode = $account)
RETURN u.accountCode AS account, u.email AS email, u.name AS name, u.openTrainingCount AS open,
       u.oldestOpenTrainingLaunch AS oldestLaunched, u.openTrainings AS campaigns
ORDER BY u.openTrainingOrder, email
