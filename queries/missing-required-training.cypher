// id: missing-required-training
// title: Active people missing a required training category
// description: Active people from the roster, and Mimecast users no roster person matches, whose roster group or Mimecast group (group_requirements "mimecast:<name>", through nested groups) requires a training category that no completed campaign of theirs covers (a COMPLETED edge to a campaign that COVERS the category) and that no training recorded elsewhere covers ([compliance] extra_completions). One row per person and missing category; the group column shows the roster group, else the Mimecast groups that require it. Mimecast's API lists only global training campaigns: a campaign targeted at people or groups is invisible to it, so "missing" can mean "done in a targeted campaign"; record those in extra_completions.
// frameworks: SOC 2 CC1.4; SOC 2 CC2.2; HIPAA 164.308(a)(5); PCI DSS 12.6; ISO 27001 A.6.3; GDPR Art. 39(1)(b)
// severity: high
// version: 3
// population: training requirements of active people and of unmatched users (one per person and category)
// count: CALL () { MATCH (p:Person {active: true}) WHERE $account IS NULL OR p.accountCode = $account RETURN coalesce(sum(size(coalesce(p.requiredCategories, []))), 0) AS n UNION ALL MATCH (u:MimecastUser) WHERE ($account IS NULL OR u.accountCode = $account) AND u.requiredCategories IS NOT NULL AND coalesce(u.alias, false) = false AND NOT EXISTS { MATCH (:Person)-[:IS]->(u) } RETURN coalesce(sum(size(u.requiredCategories)), 0) AS n } RETURN sum(n) AS total
// remediation: Assign a campaign covering the category to the person, or record training done elsewhere; check the campaign mapping when a completed campaign should have counted.
// identity: email, category
// param: account = null | Only this account code; null for every account
// param: require_pass = false | Count only completions where every answer was correct
// columns: account, person, email, group, category
//
// In Neo4j Browser, set the parameters first:
//   :param account => null
//   :param require_pass => false
CALL () {
  MATCH (p:Person {active: true})
  WHERE $account IS NULL OR p.accountCode = $account
  UNWIND coalesce(p.requiredCategories, []) AS category
  WITH p, category
  WHERE NOT EXISTS {
    MATCH (p)-[:IS]->(:MimecastUser)-[done:COMPLETED]->(:MimecastAwarenessCampaign)-[:COVERS]->(:TrainingCategory {category: category})
    WHERE done.passed OR NOT $require_pass
  }
  AND NOT EXISTS {
    MATCH (p)-[:COMPLETED]->(:TrainingCategory {category: category})
  }
  RETURN p.accountCode AS account, p.name AS person, p.email AS email,
         coalesce(p.group, 'mimecast:' + reduce(s = '', g IN coalesce(p.requiredByGroups, []) | s + CASE WHEN s = '' THEN '' ELSE ', ' END + g)) AS group,
         category
  UNION ALL
  MATCH (u:MimecastUser)
  WHERE ($account IS NULL OR u.accountCode = $account)
    AND u.requiredCategories IS NOT NULL
    AND coalesce(u.alias, false) = false
    AND NOT EXISTS { MATCH (:Person)-[:IS]->(u) }
  UNWIND u.requiredCategories AS category
  WITH u, category
  WHERE NOT EXISTS {
    MATCH (u)-[done:COMPLETED]->(:MimecastAwarenessCampaign)-[:COVERS]->(:TrainingCategory {category: category})
    WHERE done.passed OR NOT $require_pass
  }
  RETURN u.accountCode AS account, u.name AS person, u.email AS email,
         'mimecast:' + reduce(s = '', g IN coalesce(u.requiredByGroups, []) | s + CASE WHEN s = '' THEN '' ELSE ', ' END + g) AS group,
         category
}
RETURN account, person, email, group, category
ORDER BY account, person, category
