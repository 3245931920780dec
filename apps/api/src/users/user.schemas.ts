import { z } from 'zod';

export const createUserSchema = z.strictObject(
  {
    email: z.email({ error: 'expected an email address' }).max(254, { error: 'expected at most 254 characters' }),
    name: z
      .string({ error: 'expected a string' })
      .trim()
      .min(1, { error: 'must not be empty' })
      .max(200, { error: 'expected at most 200 characters' }),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : 'expected a JSON object') },
);
export type CreateUser = z.output<typeof createUserSchema>;

export const userIdSchema = z.uuid({ error: 'expected a UUID' });

export const listUsersSchema = z.object({
  limit: z.coerce
    .number({ error: 'expected a number' })
    .int({ error: 'expected a whole number' })
    .min(1, { error: 'expected at least 1' })
    .max(100, { error: 'expected at most 100' })
    .default(20),
  cursor: z
    .string()
    .max(200, { error: 'cursor too long' })
    .optional()
    .meta({ description: "the previous page's `nextCursor`; omitted for the first page" }),
});
export type ListUsers = z.output<typeof listUsersSchema>;

/** What the API answers; the OpenAPI document's response schemas come from these. */
export const userSchema = z.object({
  id: z.uuid(),
  email: z.email(),
  name: z.string(),
  createdAt: z.iso.datetime().meta({ description: 'ISO 8601, UTC' }),
});
export type User = z.output<typeof userSchema>;

export const userPageSchema = z.object({
  data: z.array(userSchema),
  nextCursor: z.string().nullable().meta({ description: 'pass as `cursor` for the next page; null on the last page' }),
});
export type UserPage = z.output<typeof userPageSchema>;
