;; err-validate -- validate-config and initialize return err(configuration-error("bad config")).

(data (i32.const 512) "bad config")

(func $err-validate.validate-config (export "obsrvr:flowctl/processor@1.0.0#validate-config")
  (param $ptr i32) (param $len i32) (result i32)
  ;; processor-error case 5: configuration-error(string)
  (call $ret-err (i32.const 5) (i32.const 512) (i32.const 10)))

(func $err-validate.initialize (export "obsrvr:flowctl/processor@1.0.0#initialize")
  (param $ptr i32) (param $len i32) (result i32)
  (call $ret-err (i32.const 5) (i32.const 512) (i32.const 10)))
