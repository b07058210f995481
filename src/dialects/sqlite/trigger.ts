import type { TriggerArgs, TriggerSql } from '../types.js';

/** Row triggers that insert into migration 005's view. */
export function sqliteTrigger(a: TriggerArgs): TriggerSql {
  const k = `"${a.key}"`;
  const write = (kind: string, ids: string) =>
    `insert into "${a.write}" (kind, refresher, args, cluster) values ('${kind}', ${a.refresher}, ${ids}, ${a.cluster});`;
  return {
    up: [
      `create trigger "${a.base}_ins" after insert on "${a.table}" when new.${k} is not null
         begin ${write('refresh', `json_array(new.${k})`)} end`,
      `create trigger "${a.base}_upd" after update on "${a.table}" when coalesce(new.${k}, old.${k}) is not null begin
         ${write(
           'refresh',
           `(select json_group_array(k) from (select old.${k} as k where old.${k} is not null
           union select new.${k} where new.${k} is not null))`,
         )} end`,
      `create trigger "${a.base}_del" after delete on "${a.table}" when old.${k} is not null
         begin ${write('remove', `json_array(old.${k})`)} end`,
    ],
    down: [`drop trigger if exists "${a.base}_ins"`, `drop trigger if exists "${a.base}_upd"`, `drop trigger if exists "${a.base}_del"`],
  };
}
