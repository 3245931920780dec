import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { RequireJson } from '../http/require-json.guard.js';
import { ZodPipe } from '../http/zod-pipe.js';
import { ApiOperation } from '../openapi/api-operation.js';
import {
  type CreateUser,
  createUserSchema,
  type ListUsers,
  listUsersSchema,
  type User,
  type UserPage,
  userIdSchema,
  userPageSchema,
  userSchema,
} from './user.schemas.js';
import { UsersService } from './users.service.js';

const DATABASE_DOWN = { 503: 'the database is unreachable; `Retry-After: 5`' } as const;

@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  @UseGuards(RequireJson)
  @ApiOperation({
    summary: 'Create a user',
    description: 'Also enqueues a welcome email and emits `user.created` to Socket.IO clients.',
    success: { description: 'the user', schema: userSchema },
    errors: { 409: 'a user with this email already exists (case-insensitive)', ...DATABASE_DOWN },
  })
  create(@Body(new ZodPipe(createUserSchema)) body: CreateUser): Promise<User> {
    return this.users.create(body);
  }

  @Get()
  @ApiOperation({
    summary: 'List users, oldest first',
    description: "Keyset pagination: pass the previous page's `nextCursor` as `cursor`.",
    success: { description: 'a page of users', schema: userPageSchema },
    errors: DATABASE_DOWN,
  })
  list(@Query(new ZodPipe(listUsersSchema)) query: ListUsers): Promise<UserPage> {
    return this.users.list(query);
  }

  @Get(':id')
  @ApiOperation({
    summary: 'Get a user',
    success: { description: 'the user', schema: userSchema },
    errors: { 404: 'no user with this id', ...DATABASE_DOWN },
  })
  get(@Param('id', new ZodPipe(userIdSchema, 'id')) id: string): Promise<User> {
    return this.users.get(id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete a user',
    success: { description: 'deleted' },
    errors: { 404: 'no user with this id', ...DATABASE_DOWN },
  })
  async remove(@Param('id', new ZodPipe(userIdSchema, 'id')) id: string): Promise<void> {
    await this.users.remove(id);
  }
}
