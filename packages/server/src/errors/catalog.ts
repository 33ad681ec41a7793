/**
 * The error catalog: every code the platform answers, with its HTTP status, its DIMSE status
 * where a DIMSE service can answer it, and what it means in 简体中文 and English. A thrown
 * YunyingError names a code of this table (the type forbids any other string), so a client
 * can branch on the code and docs/errors.md (npm run docs:errors) lists them all.
 *
 * The `message` of an answer is the throw site's own English sentence (which study, which
 * parameter); zh/en here describe the code in general, for the documentation and the UI.
 */
import { DIMSE_STATUS } from '@yunying/dicom/dimse-status';

export interface ErrorDefinition {
  http: number;
  /** the status a DIMSE service answers; absent: dimseStatusOf's default for the HTTP status */
  dimse?: number;
  zh: string;
  en: string;
}

const D = DIMSE_STATUS;

export const ERROR_CATALOG = {
  // ---------------------------------------------------------------- generic
  BAD_REQUEST: { http: 400, zh: '请求无效', en: 'the request is malformed' },
  INTERNAL_ERROR: { http: 500, zh: '服务器内部错误', en: 'internal error' },
  NOT_FOUND: { http: 404, dimse: D.UNABLE_TO_PROCESS, zh: '资源不存在或无权查看', en: 'no such resource, or not one the caller may see' },
  NOT_IMPLEMENTED: { http: 501, dimse: D.UNABLE_TO_PROCESS, zh: '尚未实现', en: 'not implemented' },
  NOT_ACCEPTABLE: { http: 406, zh: '无法提供所要求的格式', en: 'the requested media type or transfer syntax cannot be served' },
  UNSUPPORTED_MEDIA_TYPE: { http: 415, zh: '不支持的请求内容类型', en: 'the Content-Type of the request is not supported' },
  PAYLOAD_TOO_LARGE: { http: 413, zh: '请求体过大', en: 'the request body is too large' },
  INVALID_BODY: { http: 400, zh: '请求体无效', en: 'the request body is invalid' },
  INVALID_PARAMETER: { http: 400, zh: '参数无效', en: 'a parameter is invalid' },
  MISSING_PARAMETER: { http: 400, zh: '缺少参数', en: 'a required parameter is missing' },
  INVALID_ID: { http: 400, zh: '标识无效', en: 'an identifier is malformed' },
  CONFIG_INVALID: { http: 500, zh: '配置无效', en: 'the configuration is invalid' },

  // ---------------------------------------------------------------- authentication and authorization
  UNAUTHORIZED: { http: 401, dimse: D.NOT_AUTHORIZED, zh: '需要登录，或凭据无效', en: 'authentication required, or the credentials are invalid' },
  FORBIDDEN: { http: 403, dimse: D.NOT_AUTHORIZED, zh: '无权执行此操作', en: 'the caller may not do this' },
  LOGIN_THROTTLED: { http: 429, dimse: D.NOT_AUTHORIZED, zh: '登录失败次数过多，请稍后再试', en: 'too many failed logins; try again later' },
  PASSWORD_HASHING_BUSY: { http: 503, dimse: D.OUT_OF_RESOURCES, zh: '登录校验繁忙，请稍后再试', en: 'too many logins are being checked; try again shortly' },
  PASSWORD_HASHING_FAILED: { http: 500, zh: '密码校验失败', en: 'the password-hashing worker failed' },
  WEAK_PASSWORD: { http: 400, zh: '密码强度不足', en: 'the password does not meet the password policy' },
  SELF_LOCKOUT: { http: 400, zh: '不能停用自己或更改自己的角色', en: 'administrators cannot disable themselves or change their own role' },

  // ---------------------------------------------------------------- platform administration
  INVALID_ROLE: { http: 400, zh: '角色无效', en: 'no such role' },
  INVALID_USERNAME: { http: 400, zh: '用户名无效', en: 'the user name is invalid' },
  USER_EXISTS: { http: 409, zh: '用户已存在', en: 'the user already exists' },
  NOT_A_USER: { http: 400, zh: '不是用户账号', en: 'the account is not a user' },
  INVALID_INSTITUTION_ID: { http: 400, zh: '机构标识无效', en: 'the institution id is invalid' },
  INSTITUTION_EXISTS: { http: 409, zh: '机构已存在', en: 'the institution already exists' },
  INSTITUTION_REQUIRED: { http: 409, zh: '须指定所属机构', en: 'an institution must be named' },
  INSTITUTION_CYCLE: { http: 400, zh: '机构层级不能成环', en: 'the institution hierarchy would contain a cycle' },
  INVALID_ALLIANCE: { http: 400, zh: '医联体关系无效', en: 'the alliance membership is invalid' },
  INVALID_AE_TITLE: { http: 400, zh: 'AE 名称无效', en: 'the AE title is invalid' },
  INVALID_AE_ADDRESS: { http: 400, zh: 'DICOM 节点地址无效', en: 'the DICOM node address is invalid' },
  // administrator settings (settings/): pick lists, reading SLA
  INVALID_PICK_LIST: { http: 400, zh: '选择列表无效：须为 1–100 项 DICOM 代码（大写字母、数字或下划线，最多 16 位）', en: 'the pick list is invalid: 1-100 DICOM codes (capital letters, digits or underscore, up to 16)' },
  INVALID_SLA: { http: 400, zh: '诊断时限无效：每个优先级须为 1–10080 分钟的整数，且急诊不长于加急、加急不长于常规', en: 'the reading SLA is invalid: whole minutes from 1 to 10080 per priority, emergency no longer than urgent, urgent no longer than routine' },

  // ---------------------------------------------------------------- audit trail
  AUDIT_KEY_TOO_SHORT: { http: 500, zh: '审计密钥过短', en: 'the audit key is too short' },
  AUDIT_KEY_MISMATCH: { http: 500, zh: '审计链使用了另一把密钥', en: 'the audit trail was keyed with another audit key' },
  AUDIT_CHAIN_UNKEYED: { http: 500, zh: '审计链缺少密钥记录，可能被改写', en: 'the audit trail holds no key record although a key existed: it may have been rewritten' },

  // ---------------------------------------------------------------- ingest (STOW-RS, C-STORE)
  INVALID_DICOM: { http: 400, dimse: D.CANNOT_UNDERSTAND, zh: '无法解析 DICOM 对象', en: 'the DICOM object cannot be read' },
  INVALID_DATASET: { http: 400, dimse: D.DATASET_DOES_NOT_MATCH_SOP_CLASS, zh: '数据集无法解析', en: 'the data set cannot be parsed' },
  INVALID_UID: { http: 400, dimse: D.DATASET_DOES_NOT_MATCH_SOP_CLASS, zh: 'UID 无效', en: 'a UID is not valid' },
  SOP_INSTANCE_MISMATCH: { http: 400, dimse: D.DATASET_DOES_NOT_MATCH_SOP_CLASS, zh: '数据集中的 SOP Instance UID 与命令不符', en: 'the SOP Instance UID of the data set differs from the command' },
  SOP_CLASS_MISMATCH: { http: 400, dimse: D.DATASET_DOES_NOT_MATCH_SOP_CLASS, zh: '数据集中的 SOP Class UID 与命令不符', en: 'the SOP Class UID of the data set differs from the command' },
  // PS3.18 leaves the value open; A901 (a "data set does not match" failure) as other DICOMweb servers use.
  STUDY_UID_MISMATCH: { http: 409, dimse: 0xa901, zh: '实例不属于目标检查', en: 'the instance does not belong to the target study' },
  STUDY_NOT_WRITABLE: { http: 409, dimse: D.NOT_AUTHORIZED, zh: '该检查不接受此来源的实例', en: 'the study cannot take instances from this sender' },
  DUPLICATE_SOP_INSTANCE: { http: 409, dimse: D.SOP_INSTANCE_CONFLICT, zh: '实例已存在且内容不同', en: 'an instance with this SOP Instance UID exists with other content' },
  INDEX_WRITE_FAILED: { http: 503, dimse: D.OUT_OF_RESOURCES, zh: '索引写入失败，请重发', en: 'the instance could not be indexed; send it again' },
  STORAGE_WRITE_FAILED: { http: 503, dimse: D.OUT_OF_RESOURCES, zh: '存储写入失败，请重发', en: 'the instance could not be written; send it again' },
  INVALID_MULTIPART: { http: 400, dimse: D.CANNOT_UNDERSTAND, zh: 'multipart 请求体无效', en: 'the multipart body is malformed' },
  TOO_MANY_PARTS: { http: 413, dimse: D.OUT_OF_RESOURCES, zh: '单次 STOW-RS 请求的部分过多', en: 'the STOW-RS request carries too many parts' },
  UPLOADS_BUSY: { http: 503, dimse: D.OUT_OF_RESOURCES, zh: '上传繁忙，请稍后重发', en: 'too many uploads are being stored; send again shortly' },

  // ---------------------------------------------------------------- queries and retrieval (QIDO-RS, WADO, C-FIND)
  INVALID_QUERY: { http: 400, dimse: D.CANNOT_UNDERSTAND, zh: '查询无效', en: 'the query is invalid' },
  INVALID_MATCHING_KEY: { http: 400, dimse: D.CANNOT_UNDERSTAND, zh: '匹配键的值无效', en: 'a matching key has an invalid value' },
  UNSUPPORTED_MATCHING_KEY: { http: 400, dimse: D.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, zh: '不支持按此属性匹配', en: 'the attribute is not a supported matching key' },
  QUERY_TOO_BROAD: { http: 400, dimse: D.OUT_OF_RESOURCES, zh: '查询范围过大，请增加其他匹配条件', en: 'the query leaves too many candidates for its sequence or person-name keys; narrow it with another key' },
  INVALID_FRAME_LIST: { http: 400, zh: '帧号列表无效', en: 'the frame list is invalid' },
  INVALID_BULKDATA_PATH: { http: 400, zh: 'Bulk data 路径无效', en: 'the bulk data path is invalid' },
  BULKDATA_UNAVAILABLE: { http: 500, zh: '无法读取 bulk data', en: 'the bulk data cannot be read' },
  STORED_INSTANCE_UNREADABLE: { http: 500, zh: '已存储的实例无法解析', en: 'a stored instance cannot be parsed' },
  INVALID_STORED_OBJECT: { http: 500, zh: '已存储的对象无法按要求读取', en: 'the stored object cannot be read as asked' },
  RENDERING_NOT_SUPPORTED: { http: 406, zh: '该对象无法渲染为图像', en: 'the object cannot be rendered as an image' },
  FRAME_TOO_LARGE: { http: 422, zh: '图像帧过大，无法渲染', en: 'the frame is larger than the rendering budget' },
  FRAME_NOT_DECODABLE: { http: 422, zh: '图像帧无法解码', en: 'the frame cannot be decoded' },
  DECODER_BUSY: { http: 503, zh: '解码繁忙，请稍后再试', en: 'too many frames are waiting to be decoded; retry shortly' },
  DECODER_FAILED: { http: 500, zh: '解码进程失败', en: 'the decode worker failed' },
  TRANSCODE_FAILED: { http: 422, dimse: D.UNABLE_TO_PROCESS, zh: '无法将实例转换为所要求的传输语法', en: 'the instance cannot be converted to the requested transfer syntax' },
  DEIDENTIFICATION_REFUSED: { http: 422, zh: '该实例无法按 PS3.15 基本规范去标识化', en: 'the instance cannot be de-identified with the PS3.15 Basic Profile (e.g. identifying text burned into the pixels)' },

  // ---------------------------------------------------------------- FHIR
  INVALID_SEARCH_PARAMETER: { http: 400, zh: 'FHIR 检索参数无效', en: 'a FHIR search parameter is invalid' },
  UNSUPPORTED_SEARCH_PARAMETER: { http: 400, zh: '不支持的 FHIR 检索参数', en: 'the FHIR search parameter is not supported' },
  SEARCH_TOO_BROAD: { http: 400, zh: '检索范围过大，请增加条件', en: 'the search is too broad; add a criterion' },
  INVALID_RESOURCE: { http: 400, zh: 'FHIR 资源无效', en: 'the FHIR resource in the request is invalid' },
  SUBSCRIPTION_ENDPOINT_REFUSED: { http: 400, zh: '订阅的通知地址不被允许', en: 'the subscription endpoint is not allowed' },

  // ---------------------------------------------------------------- studies
  NOTHING_TO_CORRECT: { http: 400, zh: '没有需要更正的内容', en: 'the correction changes nothing' },
  CORRECTION_FAILED: { http: 422, zh: '检查信息更正失败', en: 'the study could not be corrected' },
  DELETION_FAILED: { http: 503, zh: '检查删除失败', en: 'the study could not be deleted' },

  // ---------------------------------------------------------------- reading requests and reports
  INVALID_PRIORITY: { http: 400, zh: '优先级无效', en: 'the priority is invalid' },
  NO_DIAGNOSTIC_CENTRE: { http: 400, zh: '没有可用的诊断中心', en: 'no diagnostic centre serves this institution' },
  READING_INSTITUTION_NOT_SERVING: { http: 422, zh: '该机构不为本机构提供诊断服务', en: 'the named institution does not serve the requesting institution' },
  REQUEST_EXISTS: { http: 409, zh: '该检查已有未完成的诊断申请', en: 'the study already has an open reading request' },
  NO_IMAGES: { http: 409, zh: '检查尚无图像', en: 'the study has no images yet' },
  ALREADY_CLAIMED: { http: 409, zh: '申请已被他人领取', en: 'the request was claimed by someone else' },
  CLAIMED_BY_OTHER: { http: 409, zh: '申请由他人领取中', en: 'the request is claimed by another radiologist' },
  ILLEGAL_TRANSITION: { http: 409, zh: '当前状态不允许此操作', en: 'the current status does not allow this' },
  CONCURRENT_CHANGE: { http: 409, zh: '已被同时修改，请刷新后重试', en: 'changed concurrently; reload and try again' },
  INVALID_REPORT: { http: 400, zh: '报告内容无效', en: 'the report is invalid' },
  REPORT_INCOMPLETE: { http: 400, zh: '报告不完整', en: 'the report is incomplete' },
  REPORT_NOT_EDITABLE: { http: 409, zh: '报告已不可编辑', en: 'the report can no longer be edited' },
  REPORT_NOT_SIGNED: { http: 409, zh: '报告尚未签发', en: 'the report is not signed yet' },
  // reporting productivity: templates, phrases, measurements and key images (issue 14, item 7)
  TEMPLATE_READ_ONLY: { http: 409, zh: '系统预置的模板与常用语不可修改，请另存为个人或本机构的', en: 'the starter templates and phrases cannot be changed; save a copy as a personal or institution one' },
  INVALID_ATTACHMENT: { http: 400, zh: '测量或关键图像无效（须为本检查的图像）', en: 'a measurement or key image is invalid (it must name an image of the report’s study)' },
  // review stage (审核): the electronic signature of a signing
  SIGNATURE_REQUIRED: { http: 400, zh: '签发须输入登录密码或签名 PIN（电子签名）', en: 'signing needs the signer’s password or signing PIN (electronic signature)' },
  SIGNATURE_REJECTED: { http: 403, zh: '电子签名验证失败：密码或 PIN 错误，报告未签发', en: 'the electronic signature was rejected: wrong password or PIN; nothing was signed' },
  SIGNATURE_THROTTLED: { http: 429, zh: '签名验证失败次数过多，请稍后再试', en: 'too many failed signature attempts; try again later' },
  SIGNING_PIN_NOT_SET: { http: 409, zh: '尚未设置签名 PIN，请使用登录密码签发', en: 'no signing PIN is set; sign with the password' },
  WEAK_SIGNING_PIN: { http: 400, zh: '签名 PIN 须为 6 位数字，且不能过于简单', en: 'a signing PIN is 6 digits and must not be trivial' },
  INVALID_LAST_EVENT_ID: { http: 400, zh: 'Last-Event-ID 无效', en: 'the Last-Event-ID is invalid' },

  // ---------------------------------------------------------------- critical findings (危急值, critical-findings/)
  CRITICAL_CATEGORY_UNKNOWN: { http: 400, zh: '危急值类别不存在', en: 'no such critical-finding category' },
  CRITICAL_REQUEST_CANCELLED: { http: 409, zh: '诊断申请已撤销，不能上报危急值', en: 'the reading request was cancelled: no critical finding can be flagged on it' },
  CRITICAL_FINDING_ACKNOWLEDGED: { http: 409, zh: '该危急值已被确认', en: 'the critical finding was acknowledged already' },
  CRITICAL_INFORMED_AT_INVALID: { http: 400, zh: '告知时间须在上报之后、当前时间之前', en: 'the time the clinician was informed must lie between the flag and now' },

  // ---------------------------------------------------------------- orders and the modality worklist (orders/)
  ORDER_INVALID: { http: 400, zh: '检查申请内容无效', en: 'the order is invalid' },
  ORDER_EXISTS: { http: 409, zh: '本机构已有相同检查号或申请单号的检查申请', en: 'the institution already has an order with this accession number or placer order number' },
  ORDER_NOT_CANCELLABLE: { http: 409, zh: '检查已完成，不能撤销', en: 'the order is completed (or cancelled already) and cannot be cancelled' },
  // ---------------------------------------------------------------- mutual recognition (recognition/)
  NATIONAL_ID_INVALID: { http: 400, zh: '居民身份证号无效（长度、出生日期或校验码不符）', en: 'not a valid resident ID (length, birth date or GB 11643 check character)' },
  PATIENT_SEARCH_INVALID: { http: 400, zh: '请按身份证号，或按姓名加出生日期查找', en: 'search by resident ID, or by name and birth date' },
  PERSONS_DIFFERENT_NATIONAL_IDS: { http: 409, zh: '两人的居民身份证号不同，不能合并', en: 'the two persons hold different resident IDs and cannot be merged' },
  PERSON_MERGED: { http: 409, zh: '该患者已合并到另一患者', en: 'the person was merged into another; use the surviving person' },
  CANDIDATE_DECIDED: { http: 409, zh: '该疑似匹配已处理', en: 'the probable link was confirmed or rejected already' },
  STUDY_ALREADY_VISIBLE: { http: 409, zh: '该检查已在您的权限范围内，无需申请', en: 'the study is visible to the caller already; no access request is needed' },
  RECOGNITION_ITEM_INVALID: { http: 400, zh: '互认项目内容无效', en: 'the recognition item is invalid' },

  // ---------------------------------------------------------------- consultation (consult/)
  CONSULTATION_INVALID: { http: 400, zh: '会诊申请内容无效', en: 'the consultation request is invalid' },
  CONSULTATION_SAME_INSTITUTION: { http: 400, zh: '会诊须邀请其他机构的专家', en: 'a consultation goes to another institution' },
  CONSULTATION_NO_AGREEMENT: { http: 403, zh: '两机构之间没有远程会诊协议，请先由管理员登记', en: 'there is no consultation agreement between the two institutions; an administrator records one first' },
  CONSULTATION_NO_EXPERT: { http: 409, zh: '受邀机构没有可邀请的会诊专家', en: 'the invited institution has no expert to invite' },
  CONSULTATION_NOT_REQUESTER: { http: 403, zh: '仅申请机构可执行此操作', en: 'only the requesting institution does this' },
  CONSULTATION_NOT_INVITED: { http: 403, zh: '您不是本次会诊的受邀专家', en: 'you are not an expert invited to this consultation' },
  CONSULTATION_NOT_LEAD: { http: 403, zh: '仅牵头专家可签署会诊结论', en: 'only the lead expert signs the conclusion' },
  CONSULTATION_NO_OPINION: { http: 409, zh: '须至少有一位专家签署意见后才能签署会诊结论', en: 'the conclusion follows at least one signed opinion' },
  CONSULTATION_EXPERT_INVITED: { http: 409, zh: '该专家已受邀', en: 'the expert is invited already' },
  OPINION_SIGNED: { http: 409, zh: '会诊意见已签署，不能再修改', en: 'the opinion is signed already and cannot change' },
  // ---------------------------------------------------------------- referral and MDT (consult/)
  REFERRAL_INVALID: { http: 400, zh: '转诊申请无效', en: 'the referral is invalid' },
  REFERRAL_DISCHARGE_REQUIRED: { http: 400, zh: '下转需填写出院小结和随访计划', en: 'a down-referral needs the discharge summary and the follow-up plan' },
  REFERRAL_STATE_CONFLICT: { http: 409, zh: '转诊当前状态不允许此操作', en: 'the referral is not in a state that allows this' },
  MDT_SESSION_INVALID: { http: 400, zh: '多学科会诊安排无效', en: 'the MDT session is invalid' },
  MDT_SESSION_STATE_CONFLICT: { http: 409, zh: '多学科会诊当前状态不允许此操作', en: 'the MDT session is not in a state that allows this' },

  // ---------------------------------------------------------------- cloud film (share links)
  INVALID_EXPIRY: { http: 400, zh: '有效期无效', en: 'the expiry is invalid' },
  INVALID_PHONE: { http: 400, zh: '手机号无效', en: 'the phone number is not a mobile number' },
  INVALID_CODE_LENGTH: { http: 400, zh: '访问码长度无效', en: 'the access code length is invalid' },
  INVALID_RECIPIENT: { http: 400, zh: '接收人无效', en: 'the recipient is invalid' },
  SHARE_NOT_LIVE: { http: 409, zh: '链接已过期或已撤销', en: 'the link has expired or was revoked' },
  SHARE_NOT_FOUND: { http: 404, zh: '链接不存在', en: 'no such link' },
  SHARE_STUDY_GONE: { http: 410, zh: '链接对应的检查已不存在', en: 'the study of this link no longer exists' },
  SHARE_EXPIRED: { http: 410, zh: '链接已过期', en: 'the link has expired' },
  SHARE_REVOKED: { http: 410, zh: '链接已撤销', en: 'the link was withdrawn' },
  SHARE_CODE_REQUIRED: { http: 401, zh: '请先输入访问码', en: 'enter the access code first' },
  SHARE_CODE_WRONG: { http: 401, zh: '访问码错误', en: 'wrong access code' },
  SHARE_LOCKED: { http: 429, zh: '错误次数过多，链接已锁定', en: 'too many wrong codes: the link is locked' },
  SHARE_THROTTLED: { http: 429, zh: '错误次数过多，请稍后再试', en: 'too many wrong codes; try again later' },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** The codes whose HTTP status is `S`, e.g. ErrorCodeWithStatus<400> for badRequest. */
export type ErrorCodeWithStatus<S extends number> = { [C in ErrorCode]: (typeof ERROR_CATALOG)[C]['http'] extends S ? C : never }[ErrorCode];

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CATALOG, value);
}

/**
 * The DIMSE status of a code: the catalog's, else one that follows from the HTTP status
 * (a malformed request cannot be understood, a refusal is not authorized, what is not
 * there cannot be processed, anything else is a processing failure).
 */
export function dimseStatusOf(code: ErrorCode): number {
  const definition: ErrorDefinition = ERROR_CATALOG[code];
  if (definition.dimse !== undefined) return definition.dimse;
  const http = definition.http;
  if (http === 400) return D.CANNOT_UNDERSTAND;
  if (http === 401 || http === 403) return D.NOT_AUTHORIZED;
  if (http === 404 || http === 501) return D.UNABLE_TO_PROCESS;
  return D.PROCESSING_FAILURE;
}
