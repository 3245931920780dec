import {
  type DynamicModule,
  Global,
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
  Optional,
} from '@nestjs/common';
import { AppMetrics, HealthRegistry } from '@obsnest/observability';
import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { DATABASE, type Database } from './database/database.js';
import { migrate } from './database/migrations.js';
import { createPglite } from './database/pglite.js';
import { createPostgres } from './database/postgres.js';
import { createDevTransport, createSmtpTransport, MAIL_TRANSPORT, type MailTransport } from './mail/mail-transport.js';
import { databaseSentMailLog } from './mail/sent-mail-log.js';
import { welcomeEmailHandler } from './mail/welcome-email.js';
import { reportOutboxBacklog } from './metrics.js';
import { OutboxRelay } from './outbox/outbox-relay.js';
import { WELCOME_EMAIL_TOPIC, welcomeEmailToQueue } from './outbox/welcome-email.js';
import { createBullmqQueue } from './queue/bullmq-queue.js';
import { EMAIL_QUEUE, EMAIL_QUEUE_NAME, type EmailQueue } from './queue/email-queue.js';
import { createInProcessQueue } from './queue/in-process-queue.js';
import { JobLifecycle } from './queue/job-lifecycle.js';
import { tracedDatabase } from './tracing/traced-database.js';
import { tracedMailTransport } from './tracing/traced-mail.js';
import { tracingEnabled } from './tracing/start-tracing.js';

export const LOGGER = Symbol('LOGGER');

/** Wires the adapters into health and metrics, and closes them in order on shutdown. */
@Injectable()
class InfrastructureLifecycle implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(EMAIL_QUEUE) private readonly queue: EmailQueue,
    @Inject(MAIL_TRANSPORT) private readonly mail: MailTransport,
    private readonly outbox: OutboxRelay,
    private readonly health: HealthRegistry,
    @Optional() @Inject(AppMetrics) private readonly metrics?: AppMetrics,
  ) {}

  onModuleInit(): void {
    this.health.addReadinessCheck('database', async () => {
      await this.db.ping();
      return { kind: this.db.kind };
    });
    this.health.addReadinessCheck('queue', async () => {
      await this.queue.ping();
      return { backend: this.queue.backend };
    });
    this.metrics?.setDbPoolSource(() => this.db.poolStats());
    this.metrics?.setQueueDepthSource(EMAIL_QUEUE_NAME, () => this.queue.depth(), { shared: this.queue.backend === 'bullmq' });
    if (this.metrics) reportOutboxBacklog(this.metrics, WELCOME_EMAIL_TOPIC, () => this.outbox.backlog(WELCOME_EMAIL_TOPIC));
  }

  /** Also relays what earlier instances left in the outbox (a crash, a Redis outage at their end). */
  onApplicationBootstrap(): void {
    this.outbox.start();
  }

  /**
   * The relay first (it hands messages to the queue; what it has not handed over stays in the outbox
   * for the next instance), then jobs (they may still write), then mail, then the database they depend on.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.outbox.stop();
    await this.queue.close();
    this.mail.close();
    await this.db.close();
  }
}

/**
 * The adapters behind the persistence, queue and mail ports, each chosen once from config:
 * PostgreSQL or PGlite, BullMQ or in-process, SMTP or the development mailbox.
 */
@Global()
@Module({})
export class InfrastructureModule {
  static forRoot(config: Config, logger: Logger): DynamicModule {
    // Spans around queries and sends only when tracing is on: off, the adapters are used as they are.
    const tracing = tracingEnabled(config);
    return {
      module: InfrastructureModule,
      providers: [
        { provide: LOGGER, useValue: logger },
        {
          provide: DATABASE,
          useFactory: async () => {
            const db = config.DATABASE_URL
              ? createPostgres(
                  {
                    url: config.DATABASE_URL,
                    max: config.DB_POOL_MAX,
                    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
                    queryTimeoutMs: config.DB_QUERY_TIMEOUT_MS,
                  },
                  logger,
                )
              : await createPglite(config.DATA_DIR);
            const applied = await migrate(db);
            logger.info({ database: db.kind, migrationsApplied: applied }, 'database ready');
            return tracing ? tracedDatabase(db) : db;
          },
        },
        {
          provide: MAIL_TRANSPORT,
          useFactory: () => {
            const mail = config.SMTP_URL
              ? createSmtpTransport(config.SMTP_URL, config.MAIL_FROM)
              : createDevTransport(config.DATA_DIR, config.MAIL_FROM);
            return tracing ? tracedMailTransport(mail) : mail;
          },
        },
        {
          provide: EMAIL_QUEUE,
          inject: [MAIL_TRANSPORT, DATABASE, { token: AppMetrics, optional: true }],
          useFactory: async (mail: MailTransport, db: Database, metrics?: AppMetrics): Promise<EmailQueue> => {
            const queueLogger = logger.child({ component: 'email-queue' });
            const lifecycle = new JobLifecycle(welcomeEmailHandler(mail, databaseSentMailLog(db), queueLogger), metrics, queueLogger);
            const settings = {
              attempts: config.EMAIL_JOB_ATTEMPTS,
              backoffMs: config.EMAIL_JOB_BACKOFF_MS,
              concurrency: config.QUEUE_CONCURRENCY,
            };
            return config.REDIS_URL
              ? createBullmqQueue({ url: config.REDIS_URL, prefix: config.QUEUE_PREFIX }, settings, lifecycle, logger)
              : createInProcessQueue(settings, lifecycle);
          },
        },
        {
          provide: OutboxRelay,
          inject: [DATABASE, EMAIL_QUEUE],
          useFactory: (db: Database, queue: EmailQueue) =>
            new OutboxRelay(
              db,
              { [WELCOME_EMAIL_TOPIC]: welcomeEmailToQueue(queue) },
              { pollMs: config.OUTBOX_POLL_MS },
              logger.child({ component: 'outbox-relay' }),
            ),
        },
        InfrastructureLifecycle,
      ],
      exports: [LOGGER, DATABASE, EMAIL_QUEUE, MAIL_TRANSPORT, OutboxRelay],
    };
  }
}
