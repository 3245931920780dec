export { freePort } from '@obsnest/testkit';
