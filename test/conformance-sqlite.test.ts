import { describe } from 'node:test';
import { availability } from './support/databases.js';
import { conformance } from './conformance/suite.js';

describe('conformance: sqlite', { skip: await availability('sqlite') }, () => conformance('sqlite'));
