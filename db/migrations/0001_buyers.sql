ALTER TABLE `idempotency_keys` DROP INDEX `idempotency_keys_scope_key_unique`;--> statement-breakpoint
ALTER TABLE `holds` ADD `buyer_id` varbinary(512);--> statement-breakpoint
ALTER TABLE `idempotency_keys` ADD `buyer_id` varbinary(512) DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `orders` ADD `buyer_id` varbinary(512);--> statement-breakpoint
ALTER TABLE `products` ADD `max_per_buyer` int;--> statement-breakpoint
ALTER TABLE `products` ADD `max_per_buyer_set_at` datetime(3);--> statement-breakpoint
ALTER TABLE `idempotency_keys` ADD CONSTRAINT `idempotency_keys_scope_buyer_key_unique` UNIQUE(`scope`,`buyer_id`,`idempotency_key`);--> statement-breakpoint
ALTER TABLE `products` ADD CONSTRAINT `products_max_per_buyer_positive` CHECK (`products`.`max_per_buyer` > 0);--> statement-breakpoint
CREATE INDEX `holds_product_buyer_status_idx` ON `holds` (`product_id`,`buyer_id`,`status`);--> statement-breakpoint
CREATE INDEX `orders_product_buyer_status_idx` ON `orders` (`product_id`,`buyer_id`,`status`);