//! SSRF template invalidation signal.

use std::sync::{Arc, Mutex};

use brokerdb::db::ErrorCode;
use brokerdb::repo::templates::TemplateInvalidationSignal;
use brokerdb_redis::ssrf::{SsrfGuardOptions, SsrfGuardStore};

use crate::policy_invalidation::wait_for;
use crate::support::code;

fn signal(template: &str) -> TemplateInvalidationSignal {
    TemplateInvalidationSignal {
        template_id: template.into(),
        version: 3,
        tenant_id: " t_1 ".into(),
        updated_at: "2026-02-13T01:00:00+01:00".into(),
    }
}

on_both!(
    async fn signals_are_published_trimmed_and_invalid_ones_dropped(b) {
        let s = SsrfGuardStore::new(b.conn.clone(), SsrfGuardOptions {
            key_prefix: Some(b.prefix.clone()), ..SsrfGuardOptions::default()
        }).unwrap();
        assert_eq!(s.channel(), b.key("invalidation:v1"));
        let inbox: Arc<Mutex<Vec<TemplateInvalidationSignal>>> = Arc::default();
        let sink = inbox.clone();
        let sub = s.subscribe_template_invalidation_signal(move |sig| sink.lock().unwrap().push(sig)).await.unwrap();
        for garbage in ["[]", r#"{"template_id":"tpl_x","version":0,"tenant_id":"t","updated_at":"2026-01-01T00:00Z"}"#] {
            let _: i64 = b.raw(redis::cmd("PUBLISH").arg(s.channel()).arg(garbage)).await;
        }
        s.publish_template_invalidation_signal(&signal(" tpl_mail ")).await.unwrap();
        wait_for(&inbox, 1).await;
        let got = inbox.lock().unwrap().clone();
        assert_eq!(got, [TemplateInvalidationSignal {
            template_id: "tpl_mail".into(), version: 3, tenant_id: "t_1".into(),
            updated_at: "2026-02-13T01:00:00+01:00".into(),
        }]);
        drop(sub);

        let mut bad = signal("tpl");
        bad.updated_at = "yesterday".into();
        assert_eq!(code(s.publish_template_invalidation_signal(&bad).await), ErrorCode::ValidationError);
        assert_eq!(code(s.publish_template_invalidation_signal(&signal("  ")).await), ErrorCode::ValidationError);
    }
);
