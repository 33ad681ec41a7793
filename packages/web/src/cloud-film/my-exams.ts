// 我的检查记录 on the cloud-film page (issue 17): the patient's exams that their links cover, and
// who accessed each. Part of cloud-film.ts's one self-contained script (only it imports this).
import { both, localTime } from './film-text.ts';

/** One exam of "my exams" (the page data's timeline, server: share/share-model.ts FilmTimelineEntry). */
export interface TimelineExam {
  studyDate: string | null;
  institutionName: string | null;
  modalities: string[];
  bodyParts: string[];
  /** the exam this link shows */
  current?: boolean;
  /** staff who opened, retrieved, were granted or recognised it, newest first: role and institution, never a name */
  accesses: Array<{ at: string; action: string; actorRole: string | null; institutionName: string | null }>;
}

/** Who accessed an exam (staff, by role: the server never names them), in both languages; another role is shown as the server names it. */
const ROLE_NAMES: Record<string, [string, string]> = {
  technologist: ['技师', 'technologist'],
  radiologist: ['诊断医师', 'radiologist'],
  'reviewing-radiologist': ['审核医师', 'reviewing radiologist'],
  expert: ['会诊专家', 'consulting expert'],
  clinician: ['临床医生', 'clinician'],
  'qc-officer': ['质控员', 'QC officer'],
  'insurance-auditor': ['医保审核', 'insurance auditor'],
  administrator: ['管理员', 'administrator'],
};

/** What was done (the audit actions the server lists: recognition/film-timeline.ts), in both languages; another is shown as its code. */
const ACCESS_ACTIONS: Record<string, [string, string]> = {
  'study.viewed': ['查看影像', 'viewed the images'],
  'study.retrieved': ['调取影像', 'retrieved the images'],
  'study.exported': ['导出检查', 'exported the exam'],
  'prior.opened': ['作为既往检查调阅', 'opened it as a prior exam'],
  'study.access-granted': ['申请调阅', 'was granted access'],
  'study.break-glass': ['紧急调阅', 'emergency access'],
  'study.recognised': ['记录互认', 'recorded recognition'],
  'study.shared': ['共享检查', 'shared the exam'],
};

/** "20240131" → "2024-01-31". */
function dicomDate(value: string | null): string {
  return value && value.length === 8 ? `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}` : (value ?? '');
}

/**
 * 我的检查记录: every exam of the patient the links cover, and who accessed it, as a card
 * before the page's foot. Rendered here (the server's markup has no place for it) from the
 * page data, only when the server sends `timeline`.
 */
export function showTimeline(exams: TimelineExam[], timeZone: string | undefined): void {
  const section = document.createElement('section');
  section.className = 'card timeline';
  section.id = 'my-exams';
  const title = document.createElement('h2');
  title.append(both('我的检查记录', 'My exams'));
  section.appendChild(title);
  if (exams.length === 0) {
    const none = document.createElement('p');
    none.className = 'meta';
    none.append(both('暂无其他检查记录。', 'No other exams.'));
    section.appendChild(none);
  }
  const list = document.createElement('ol');
  list.className = 'exams';
  for (const exam of exams) {
    const item = document.createElement('li');
    item.className = 'exam-entry';
    const head = document.createElement('p');
    head.className = 'exam-head';
    // body parts as the server sends them: importing @yunying/dicom/body-parts here would put
    // it in a chunk shared with the app, and this script must stay one file without imports
    head.append([dicomDate(exam.studyDate), exam.institutionName ?? '', exam.modalities.join('/'), exam.bodyParts.join(' ')].filter(Boolean).join(' · '));
    if (exam.current) {
      const mark = document.createElement('span');
      mark.className = 'current';
      mark.append(both('本次检查', 'this exam'));
      head.append(' ', mark);
      item.classList.add('current');
    }
    item.appendChild(head);
    const accesses = document.createElement('ul');
    accesses.className = 'accesses';
    for (const access of exam.accesses) {
      const line = document.createElement('li');
      const role = access.actorRole ? ROLE_NAMES[access.actorRole] : undefined;
      const action = ACCESS_ACTIONS[access.action];
      line.append(`${localTime(access.at, timeZone)} · `, access.institutionName ? `${access.institutionName} ` : '', role ? both(...role) : (access.actorRole ?? ''), ' · ', action ? both(...action) : access.action);
      accesses.appendChild(line);
    }
    if (exam.accesses.length === 0) {
      const nobody = document.createElement('li');
      nobody.append(both('尚无医务人员调阅', 'No staff have accessed it'));
      accesses.appendChild(nobody);
    }
    item.appendChild(accesses);
    list.appendChild(item);
  }
  section.appendChild(list);
  const foot = document.querySelector('main > .foot');
  if (foot) foot.before(section);
  else document.querySelector('main')?.appendChild(section);
}
