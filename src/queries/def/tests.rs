//! Unit tests of `queries::def`.

use super::*;

#[test]
fn header_errors_name_the_problem() {
    let ok = "// id: q\n// title: T\n// description: D\n// frameworks: SOC 2 CC6.2; HIPAA 164.308(a)(5)\n// severity: low\n// version: 3\n\
                  // population: things\n// count: MATCH (n) WHERE n.x = $x\n// count: RETURN count(n) AS total\n// remediation: Fix it.\n// identity: a\n\
                  // param: x = 1 | an x\n// columns: a\nRETURN $x AS a\n";
    let d = QueryDef::parse("q.cypher", ok).unwrap();
    assert_eq!(d.frameworks, vec!["SOC 2 CC6.2", "HIPAA 164.308(a)(5)"]);
    assert_eq!(
        d.controls,
        vec![
            Control {
                framework: Framework::Soc2,
                control: "CC6.2".into()
            },
            Control {
                framework: Framework::Hipaa,
                control: "164.308(a)(5)".into()
            }
        ]
    );
    assert_eq!(d.version, 3);
    assert_eq!(
        d.rule,
        Some(Rule {
            count: "MATCH (n) WHERE n.x = $x\nRETURN count(n) AS total".into(),
            population: "things".into(),
            remediation: "Fix it.".into(),
            identity: vec!["a".into()],
        })
    );
    assert_eq!(
        d.params[0],
        ParamDef {
            name: "x".into(),
            default: Json::from(1),
            description: "an x".into()
        }
    );
    let undeclared = ok.replace("RETURN $x AS a", "RETURN $y AS a");
    assert_eq!(
        QueryDef::parse("q.cypher", &undeclared).unwrap_err().to_string(),
        "q.cypher: $y is used but not declared with `// param:`"
    );
    assert_eq!(
        QueryDef::parse("other.cypher", ok).unwrap_err().to_string(),
        "other.cypher: id \"q\" differs from the file name"
    );
    assert_eq!(
        QueryDef::parse("q.cypher", &ok.replace("severity: low", "severity: urgent"))
            .unwrap_err()
            .to_string(),
        "q.cypher: severity \"urgent\" is not one of info, low, medium, high, critical"
    );
    assert_eq!(
        QueryDef::parse("q.cypher", &ok.replace("// columns: a\n", ""))
            .unwrap_err()
            .to_string(),
        "q.cypher: the header has no `// columns:` line"
    );
    let rule_error = |from: &str, to: &str| {
        QueryDef::parse("q.cypher", &ok.replace(from, to))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        rule_error("// remediation: Fix it.\n", ""),
        "q.cypher: the header has no `// remediation:` line"
    );
    assert_eq!(
        rule_error("severity: low", "severity: info"),
        "q.cypher: `// count:` is for queries that report findings; this one is info"
    );
    // Without `// identity:`, every column identifies a finding.
    let all_columns = ok.replace("// identity: a\n", "").replace(
        "// columns: a\nRETURN $x AS a",
        "// columns: a, b\nRETURN $x AS a, 1 AS b",
    );
    let d = QueryDef::parse("q.cypher", &all_columns).unwrap();
    assert_eq!(d.rule.unwrap().identity, vec!["a", "b"]);
    let info_with_identity =
        "// id: q\n// title: T\n// description: D\n// frameworks: SOC 2 CC6.2\n// severity: info\n\
                                  // version: 1\n// identity: a\n// columns: a\nRETURN 1 AS a\n";
    assert_eq!(
        QueryDef::parse("q.cypher", info_with_identity).unwrap_err().to_string(),
        "q.cypher: `// identity:` is for queries that report findings; this one is info"
    );
    assert_eq!(
        rule_error("// identity: a\n", "// identity: a, b\n"),
        "q.cypher: identity column \"b\" is not one of the columns (a)"
    );
    assert_eq!(
        rule_error("// identity: a\n", "// identity: a, a\n"),
        "q.cypher: identity column \"a\" appears twice"
    );
    assert_eq!(
        rule_error("// identity: a\n", "// identity: ,\n"),
        "q.cypher: `// identity:` names no column"
    );
    assert_eq!(
        rule_error("n.x = $x", "n.x = $z"),
        "q.cypher: $z is used but not declared with `// param:`"
    );
    assert_eq!(
        rule_error("version: 3", "version: 0"),
        "q.cypher: version \"0\" is not a whole number from 1"
    );
    assert_eq!(
            rule_error("SOC 2 CC6.2", "SOX 404"),
            "q.cypher: control \"SOX 404\" names no known framework (write it as \"SOC 2 ...\", \"HIPAA ...\", \"PCI DSS ...\", \"ISO 27001 ...\", \"GDPR ...\", \"NIST CSF ...\")"
        );
}
