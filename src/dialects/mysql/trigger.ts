import type { TriggerArgs, TriggerSql } from '../types.js';

/**
 * Row triggers (MySQL has no statement triggers): one instruction row per changed row. A key no
 * reader could carry (a JSON object or array, a string over 1,024 characters, a number past 2^53)
 * becomes one refresh-all, as on PostgreSQL, instead of the procedure refusing the application's write.
 */
export function mysqlTrigger(a: TriggerArgs): TriggerSql {
  const k = `\`${a.key}\``;
  const call = (kind: string, ids: string) => `CALL \`${a.write}\`('${kind}', ${a.refresher}, ${ids}, ${a.cluster})`;
  // The key as the JSON the procedure will see; CASE evaluates CAST only for a number (a string
  // would warn, an error in strict mode). 9007199254740991: 2^53 − 1, as the procedures check.
  const carried = (x: string) => {
    const j = `JSON_EXTRACT(JSON_ARRAY(${x}), '$[0]')`;
    return `(CASE WHEN ${j} LIKE '"%' THEN CHAR_LENGTH(${x}) <= 1024
      WHEN ${j} REGEXP BINARY '^-?[0-9]' THEN ABS(CAST(${j} AS DOUBLE)) <= 9007199254740991 ELSE FALSE END)`;
  };
  const send = (kind: string, keys: string[]) =>
    `IF ${keys.map(carried).join(' AND ')} THEN ${call(kind, `JSON_ARRAY(${keys.join(', ')})`)};
       ELSE ${call('refresh-all', 'NULL')}; END IF;`;
  return {
    up: [
      `CREATE TRIGGER \`${a.base}_ins\` AFTER INSERT ON \`${a.table}\` FOR EACH ROW
         BEGIN IF NEW.${k} IS NOT NULL THEN ${send('refresh', [`NEW.${k}`])} END IF; END`,
      `CREATE TRIGGER \`${a.base}_upd\` AFTER UPDATE ON \`${a.table}\` FOR EACH ROW BEGIN
         IF OLD.${k} <=> NEW.${k} OR OLD.${k} IS NULL THEN IF NEW.${k} IS NOT NULL THEN ${send('refresh', [`NEW.${k}`])} END IF;
         ELSEIF NEW.${k} IS NULL THEN ${send('refresh', [`OLD.${k}`])}
         ELSE ${send('refresh', [`OLD.${k}`, `NEW.${k}`])} END IF; END`,
      `CREATE TRIGGER \`${a.base}_del\` AFTER DELETE ON \`${a.table}\` FOR EACH ROW
         BEGIN IF OLD.${k} IS NOT NULL THEN ${send('remove', [`OLD.${k}`])} END IF; END`,
    ],
    down: ['ins', 'upd', 'del'].map((event) => `DROP TRIGGER IF EXISTS \`${a.base}_${event}\``),
  };
}
