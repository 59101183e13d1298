CREATE TABLE `audit_entries` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`action` varchar(64) NOT NULL,
	`target` varchar(64) NOT NULL,
	`request_id` varchar(200) NOT NULL,
	`client_ip` varchar(64),
	`changes` mediumtext NOT NULL,
	`note` varchar(1000),
	CONSTRAINT `audit_entries_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
ALTER TABLE `payment_events` MODIFY COLUMN `status` enum('succeeded','failed','refunded') NOT NULL;--> statement-breakpoint
ALTER TABLE `orders` ADD `updated_at` datetime(3) DEFAULT CURRENT_TIMESTAMP(3) NOT NULL;--> statement-breakpoint
ALTER TABLE `payment_events` ADD `payment_intent` varbinary(255);--> statement-breakpoint
CREATE INDEX `holds_buyer_idx` ON `holds` (`buyer_id`);--> statement-breakpoint
CREATE INDEX `orders_buyer_idx` ON `orders` (`buyer_id`);--> statement-breakpoint
CREATE INDEX `payment_events_payment_intent_idx` ON `payment_events` (`payment_intent`);--> statement-breakpoint
UPDATE `orders` SET `updated_at` = `created_at`;