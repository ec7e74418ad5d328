;; declares-unused-capability (SBX-005) -- get-info's capabilities-required is ["http-client"], but
;; the component imports nothing: an operator granting what it declares grants outbound HTTP
;; that is never used (informational check).

(data (i32.const 512) "http-client")

(func $member.get-info (export "obsrvr:flowctl/processor@1.0.0#get-info") (result i32)
  (call $zoo-info-with-capability (i32.const 512) (i32.const 11)))
