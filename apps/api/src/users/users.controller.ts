import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { RequireJson } from '../http/require-json.guard.js';
import { ZodPipe } from '../http/zod-pipe.js';
import {
  type CreateUser,
  createUserSchema,
  type ListUsers,
  listUsersSchema,
  type User,
  type UserPage,
  userIdSchema,
} from './user.schemas.js';
import { UsersService } from './users.service.js';

@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  @UseGuards(RequireJson)
  create(@Body(new ZodPipe(createUserSchema)) body: CreateUser): Promise<User> {
    return this.users.create(body);
  }

  @Get()
  list(@Query(new ZodPipe(listUsersSchema)) query: ListUsers): Promise<UserPage> {
    return this.users.list(query);
  }

  @Get(':id')
  get(@Param('id', new ZodPipe(userIdSchema, 'id')) id: string): Promise<User> {
    return this.users.get(id);
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id', new ZodPipe(userIdSchema, 'id')) id: string): Promise<void> {
    await this.users.remove(id);
  }
}
