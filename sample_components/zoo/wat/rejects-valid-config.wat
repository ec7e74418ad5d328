;; rejects-valid-config (LIFE-002) -- validate-config answers err(configuration-error) for every
;; config, even `{}`, the one its configuration-schema allows.  initialize accepts `{}`.

(data (i32.const 512) "configuration rejected")

(func $member.validate-config (export "obsrvr:flowctl/processor@1.0.0#validate-config")
  (param $ptr i32) (param $len i32) (result i32)
  (call $ret-err (i32.const 5) (i32.const 512) (i32.const 22)))
