import { describe } from 'node:test';
import { availability } from './support/databases.js';
import { conformance } from './conformance/suite.js';

describe('conformance: mysql', { skip: await availability('mysql') }, () => conformance('mysql'));
