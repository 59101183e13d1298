CREATE TABLE `holds` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`product_id` bigint unsigned NOT NULL,
	`qty` int NOT NULL,
	`status` enum('active','converted','released','expired') NOT NULL DEFAULT 'active',
	`expires_at` datetime(3) NOT NULL,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `holds_id` PRIMARY KEY(`id`),
	CONSTRAINT `holds_qty_positive` CHECK(`holds`.`qty` > 0)
);
--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`scope` varchar(64) NOT NULL,
	`idempotency_key` varbinary(255) NOT NULL,
	`fingerprint` char(64) NOT NULL,
	`response_status` smallint,
	`response_body` mediumtext,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`expires_at` datetime(3) NOT NULL,
	CONSTRAINT `idempotency_keys_id` PRIMARY KEY(`id`),
	CONSTRAINT `idempotency_keys_scope_key_unique` UNIQUE(`scope`,`idempotency_key`)
);
--> statement-breakpoint
CREATE TABLE `orders` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`hold_id` bigint unsigned NOT NULL,
	`product_id` bigint unsigned NOT NULL,
	`qty` int NOT NULL,
	`unit_price_cents` int NOT NULL,
	`total_cents` bigint NOT NULL,
	`status` enum('pending','paid','cancelled') NOT NULL DEFAULT 'pending',
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `orders_id` PRIMARY KEY(`id`),
	CONSTRAINT `orders_hold_id_unique` UNIQUE(`hold_id`),
	CONSTRAINT `orders_qty_positive` CHECK(`orders`.`qty` > 0)
);
--> statement-breakpoint
CREATE TABLE `payment_events` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`idempotency_key` varbinary(1020) NOT NULL,
	`order_id` bigint unsigned NOT NULL,
	`status` enum('succeeded','failed') NOT NULL,
	`fingerprint` char(64) NOT NULL,
	`outcome` enum('applied','duplicate-state','conflict','deferred') NOT NULL,
	`received_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`processed_at` datetime(3),
	CONSTRAINT `payment_events_id` PRIMARY KEY(`id`),
	CONSTRAINT `payment_events_idempotency_key_unique` UNIQUE(`idempotency_key`)
);
--> statement-breakpoint
CREATE TABLE `products` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`name` varchar(200) NOT NULL,
	`price_cents` int NOT NULL,
	`stock_available` int NOT NULL,
	`stock_reserved` int NOT NULL DEFAULT 0,
	`stock_total` int NOT NULL,
	`version` bigint unsigned NOT NULL DEFAULT 1,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `products_id` PRIMARY KEY(`id`),
	CONSTRAINT `products_price_cents_nonneg` CHECK(`products`.`price_cents` >= 0),
	CONSTRAINT `products_stock_reserved_nonneg` CHECK(`products`.`stock_reserved` >= 0),
	CONSTRAINT `products_stock_reserved_le_available` CHECK(`products`.`stock_reserved` <= `products`.`stock_available`)
);
--> statement-breakpoint
ALTER TABLE `holds` ADD CONSTRAINT `holds_product_id_products_id_fk` FOREIGN KEY (`product_id`) REFERENCES `products`(`id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `orders` ADD CONSTRAINT `orders_hold_id_holds_id_fk` FOREIGN KEY (`hold_id`) REFERENCES `holds`(`id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `orders` ADD CONSTRAINT `orders_product_id_products_id_fk` FOREIGN KEY (`product_id`) REFERENCES `products`(`id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX `holds_status_expires_at_idx` ON `holds` (`status`,`expires_at`);--> statement-breakpoint
CREATE INDEX `holds_product_status_expires_at_idx` ON `holds` (`product_id`,`status`,`expires_at`);--> statement-breakpoint
CREATE INDEX `idempotency_keys_expires_at_idx` ON `idempotency_keys` (`expires_at`);--> statement-breakpoint
CREATE INDEX `orders_status_created_at_idx` ON `orders` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `orders_product_status_idx` ON `orders` (`product_id`,`status`);--> statement-breakpoint
CREATE INDEX `payment_events_order_outcome_idx` ON `payment_events` (`order_id`,`outcome`);