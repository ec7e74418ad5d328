;; info-unknown-capability (LIFE-001) -- get-info's capabilities-required names "telepathy", which
;; is no flowctl capability (logging, metrics, config, http-client, database, key-value).

(data (i32.const 512) "telepathy")

(func $member.get-info (export "obsrvr:flowctl/processor@1.0.0#get-info") (result i32)
  (call $zoo-info-with-capability (i32.const 512) (i32.const 9)))
