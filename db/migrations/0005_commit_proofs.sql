CREATE TABLE `commit_proofs` (
	`token` binary(16) NOT NULL,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `commit_proofs_token` PRIMARY KEY(`token`)
);
--> statement-breakpoint
CREATE INDEX `commit_proofs_created_at_idx` ON `commit_proofs` (`created_at`);