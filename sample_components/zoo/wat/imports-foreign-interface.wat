;; imports-foreign-interface (WIT-002) -- imports obsrvr:flowctl-zoo/price-oracle@1.0.0 (`price`),
;; an interface that is neither a flowctl capability nor WASI, so no flowctl host can link it.
;; It never calls it; the processor is the baseline.

(import "obsrvr:flowctl-zoo/price-oracle@1.0.0" "price" (func $price-oracle.price (param i32 i32) (result i64)))
