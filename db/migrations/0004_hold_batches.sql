CREATE TABLE `hold_batches` (
	`token` binary(16) NOT NULL,
	`first_hold_id` bigint unsigned,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `hold_batches_token` PRIMARY KEY(`token`)
);
--> statement-breakpoint
CREATE INDEX `hold_batches_created_at_idx` ON `hold_batches` (`created_at`);