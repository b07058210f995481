export * from '../../src/index.js';
export { silentLogger as silentLoggerForTests } from '../../src/logger.js';
