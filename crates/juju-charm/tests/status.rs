//! The status fold, table-tested.

use juju_charm::status::{StatusOutcome, fold};
use juju_charm::{Status, StatusCollector};

#[test]
fn fold_table() {
    let cases: Vec<(Vec<Status>, Status)> = vec![
        (vec![], Status::active("")),
        (vec![Status::active("ready")], Status::active("ready")),
        (
            vec![Status::active("ready"), Status::waiting("for gateway")],
            Status::waiting("for gateway"),
        ),
        (
            vec![Status::waiting("w"), Status::maintenance("m")],
            Status::maintenance("m"),
        ),
        (
            vec![
                Status::maintenance("m"),
                Status::blocked("b"),
                Status::waiting("w"),
            ],
            Status::blocked("b"),
        ),
        (
            vec![
                Status::blocked("b"),
                Status::error("e"),
                Status::active("a"),
            ],
            Status::error("e"),
        ),
        // Within a level, the first added wins.
        (
            vec![Status::blocked("first"), Status::blocked("second")],
            Status::blocked("first"),
        ),
        (
            vec![
                Status::waiting("w1"),
                Status::blocked("b1"),
                Status::waiting("w2"),
                Status::blocked("b2"),
            ],
            Status::blocked("b1"),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(fold(&input), want, "{input:?}");
    }
}

#[test]
fn collector_unit_and_app_scopes() {
    let mut c = StatusCollector::new();
    assert!(c.is_empty());
    c.add(Status::active(""));
    c.add_unit(Status::waiting("unit only"));
    c.add_app(Status::blocked(
        "Scale to 1 unit (multiple gateways cause VXLAN conflicts)",
    ));
    assert!(!c.is_empty());
    assert_eq!(
        c.outcome(),
        StatusOutcome {
            unit: Status::waiting("unit only"),
            app: Status::blocked("Scale to 1 unit (multiple gateways cause VXLAN conflicts)"),
        }
    );
}

#[test]
fn display() {
    assert_eq!(Status::blocked("x").to_string(), "blocked: x");
    assert_eq!(Status::active("").to_string(), "active");
}
