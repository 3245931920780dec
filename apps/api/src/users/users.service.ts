import { randomUUID } from 'node:crypto';
import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { ValidationFailed } from '../http/errors.js';
import { OutboxRelay } from '../outbox/outbox-relay.js';
import { welcomeEmailMessage } from '../outbox/welcome-email.js';
import { UserEvents } from '../realtime/user-events.js';
import type { CreateUser, ListUsers, User, UserPage } from './user.schemas.js';
import { DuplicateEmailError, type PagePosition, UsersRepository } from './users.repository.js';

const encodeCursor = (position: PagePosition) => Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');

function decodeCursor(cursor: string): PagePosition {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(createdAt)) && /^[0-9a-f-]{36}$/i.test(id)) {
      return { createdAt, id };
    }
  } catch {
    // falls through to the 400 below
  }
  throw new ValidationFailed([{ field: 'cursor', message: 'not a cursor returned by this API' }]);
}

@Injectable()
export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    private readonly outbox: OutboxRelay,
    private readonly events: UserEvents,
  ) {}

  /**
   * The user and its welcome email commit together or not at all. The request never waits for the
   * queue, so a Redis outage costs no signup; the relay hands the email over once Redis answers.
   */
  async create(input: CreateUser): Promise<User> {
    let user: User;
    try {
      const id = randomUUID();
      user = await this.users.insertWithMessage(
        { id, ...input },
        welcomeEmailMessage({ userId: id, email: input.email, name: input.name }),
      );
    } catch (error) {
      if (error instanceof DuplicateEmailError) throw new ConflictException('a user with this email already exists');
      throw error;
    }
    // Only latency: without it the email would still leave at the relay's next poll.
    this.outbox.wake();
    this.events.userCreated(user);
    return user;
  }

  async get(id: string): Promise<User> {
    const user = await this.users.findById(id);
    if (!user) throw new NotFoundException(`no user with id ${id}`);
    return user;
  }

  async list(query: ListUsers): Promise<UserPage> {
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    // One extra row tells whether a next page exists without a count query.
    const rows = await this.users.page(query.limit + 1, after);
    const data = rows.slice(0, query.limit);
    const last = data[data.length - 1];
    return { data, nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null };
  }

  async remove(id: string): Promise<void> {
    if (!(await this.users.delete(id))) throw new NotFoundException(`no user with id ${id}`);
  }
}
