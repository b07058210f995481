import type { TriggerArgs, TriggerSql } from '../types.js';

/**
 * Row triggers that insert into migration 005's view. A key the view would refuse (a blob, a text
 * over 1,024 characters, an integer past 2^53) writes one refresh-all instead, never failing the app's write.
 */
export function sqliteTrigger(a: TriggerArgs): TriggerSql {
  const k = `"${a.key}"`;
  // 9007199254740991: 2^53 − 1, as the view checks (migration 012).
  const carried = (x: string) =>
    `(${x} is null or (typeof(${x}) in ('integer', 'real') and ${x} between -9007199254740991 and 9007199254740991)
      or (typeof(${x}) = 'text' and length(${x}) <= 1024))`;
  // Two inserts, each under its condition: a trigger body has no IF. A select with no row evaluates
  // nothing (json_array of a blob would fail).
  const send = (kind: string, keys: string[], ids: string) => {
    const ok = `(${keys.map(carried).join(' and ')})`;
    return (
      `insert into "${a.write}" (kind, refresher, args, cluster) select '${kind}', ${a.refresher}, ${ids}, ${a.cluster} where ${ok};\n` +
      `insert into "${a.write}" (kind, refresher, args, cluster) select 'refresh-all', ${a.refresher}, null, ${a.cluster} where not ${ok};`
    );
  };
  return {
    up: [
      `create trigger "${a.base}_ins" after insert on "${a.table}" when new.${k} is not null
         begin ${send('refresh', [`new.${k}`], `json_array(new.${k})`)} end`,
      `create trigger "${a.base}_upd" after update on "${a.table}" when coalesce(new.${k}, old.${k}) is not null begin
         ${send(
           'refresh',
           [`old.${k}`, `new.${k}`],
           `(select json_group_array(k) from (select old.${k} as k where old.${k} is not null
           union select new.${k} where new.${k} is not null))`,
         )} end`,
      `create trigger "${a.base}_del" after delete on "${a.table}" when old.${k} is not null
         begin ${send('remove', [`old.${k}`], `json_array(old.${k})`)} end`,
    ],
    down: [`drop trigger if exists "${a.base}_ins"`, `drop trigger if exists "${a.base}_upd"`, `drop trigger if exists "${a.base}_del"`],
  };
}
