-- A SKU's stock in one region may be split into several rows, its buckets (issue "flash-sale speed"
-- §4): each bucket is its own lock, so several reserve batches of one hot SKU commit in parallel.
-- Conservation holds per bucket; the SKU's stock is the sum of its buckets. A reservation records
-- the bucket it was taken from, so that its commit or release settles that bucket.
ALTER TABLE stock ADD COLUMN bucket smallint NOT NULL DEFAULT 0 CHECK (bucket >= 0);
ALTER TABLE stock DROP CONSTRAINT stock_pkey;
ALTER TABLE stock ADD PRIMARY KEY (sku_id, region, bucket);
ALTER TABLE reservation ADD COLUMN bucket smallint NOT NULL DEFAULT 0;
