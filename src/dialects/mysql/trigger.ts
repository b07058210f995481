import type { TriggerArgs, TriggerSql } from '../types.js';

/** Row triggers (MySQL has no statement triggers): one instruction row per changed row. */
export function mysqlTrigger(a: TriggerArgs): TriggerSql {
  const k = `\`${a.key}\``;
  const call = (kind: string, ids: string) => `CALL \`${a.write}\`('${kind}', ${a.refresher}, ${ids}, ${a.cluster})`;
  return {
    up: [
      `CREATE TRIGGER \`${a.base}_ins\` AFTER INSERT ON \`${a.table}\` FOR EACH ROW
         BEGIN IF NEW.${k} IS NOT NULL THEN ${call('refresh', `JSON_ARRAY(NEW.${k})`)}; END IF; END`,
      `CREATE TRIGGER \`${a.base}_upd\` AFTER UPDATE ON \`${a.table}\` FOR EACH ROW BEGIN
         IF OLD.${k} <=> NEW.${k} OR OLD.${k} IS NULL THEN IF NEW.${k} IS NOT NULL THEN ${call('refresh', `JSON_ARRAY(NEW.${k})`)}; END IF;
         ELSEIF NEW.${k} IS NULL THEN ${call('refresh', `JSON_ARRAY(OLD.${k})`)};
         ELSE ${call('refresh', `JSON_ARRAY(OLD.${k}, NEW.${k})`)}; END IF; END`,
      `CREATE TRIGGER \`${a.base}_del\` AFTER DELETE ON \`${a.table}\` FOR EACH ROW
         BEGIN IF OLD.${k} IS NOT NULL THEN ${call('remove', `JSON_ARRAY(OLD.${k})`)}; END IF; END`,
    ],
    down: ['ins', 'upd', 'del'].map((event) => `DROP TRIGGER IF EXISTS \`${a.base}_${event}\``),
  };
}
