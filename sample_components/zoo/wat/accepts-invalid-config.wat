;; accepts-invalid-config (LIFE-003) -- validate-config answers ok(()) for every config, valid
;; under the configuration-schema or not (`[]`, `not json`, `{"unknown": 1}`).  initialize still
;; refuses invalid configs, so only validate-config is wrong.

(func $member.validate-config (export "obsrvr:flowctl/processor@1.0.0#validate-config")
  (param $ptr i32) (param $len i32) (result i32)
  (call $ret-ok-unit))
