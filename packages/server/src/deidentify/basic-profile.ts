/**
 * The PS3.15 Annex E Basic Application Level Confidentiality Profile (Table E.1-1) as an
 * action per attribute: what the de-identifier does with each one it meets, at any depth.
 *
 * Actions (E.1-1 codes): X remove; Z replace with a zero-length value; D replace with a dummy
 * value of the same VR; U replace a UID with another, the same one for the same original (so
 * references between instances still hold); K keep, cleaning a sequence's items recursively.
 * Where the table gives a choice (X/Z, X/D, Z/D, X/Z/D, X/Z/U*) the one kept is the one that
 * leaves the instance valid whatever the attribute's type in its IOD: D over Z over X, and K
 * (items cleaned, UIDs replaced) for the reference sequences marked U*.
 *
 * Not listed here but applied by the de-identifier (deidentify.ts): every private attribute
 * (odd group) and every curve (50xx) and overlay (60xx) group removed; every UI value that is
 * not a DICOM-defined UID (1.2.840.10008.…) replaced as U, which covers the UIDs the table
 * lists and any the modality invented.
 *
 * The issue that builds the research de-identification engine (issue 24) extends this table
 * with the profile's options (retain dates, device identity, …); the action codes stay.
 */
export type ProfileAction = 'X' | 'Z' | 'D' | 'U' | 'K';

/** tag (8 uppercase hex digits) → action; attributes not listed are kept (K) */
export const BASIC_PROFILE: ReadonlyMap<string, ProfileAction> = new Map<string, ProfileAction>([
  // SOP common, general study / series / equipment
  ['00080014', 'U'], // Instance Creator UID
  ['00080015', 'X'], // Instance Coercion DateTime
  ['00080018', 'U'], // SOP Instance UID
  ['00080020', 'Z'], // Study Date
  ['00080021', 'D'], // Series Date (X/D)
  ['00080022', 'Z'], // Acquisition Date (X/Z)
  ['00080023', 'D'], // Content Date (Z/D)
  ['00080024', 'X'], // Overlay Date
  ['00080025', 'X'], // Curve Date
  ['0008002A', 'D'], // Acquisition DateTime (X/Z/D)
  ['00080030', 'Z'], // Study Time
  ['00080031', 'D'], // Series Time (X/D)
  ['00080032', 'Z'], // Acquisition Time (X/Z)
  ['00080033', 'D'], // Content Time (Z/D)
  ['00080034', 'X'], // Overlay Time
  ['00080035', 'X'], // Curve Time
  ['00080050', 'Z'], // Accession Number
  ['00080058', 'U'], // Failed SOP Instance UID List
  ['00080080', 'D'], // Institution Name (X/Z/D)
  ['00080081', 'X'], // Institution Address
  ['00080082', 'Z'], // Institution Code Sequence (X/Z/D)
  ['00080090', 'Z'], // Referring Physician's Name
  ['00080092', 'X'], // Referring Physician's Address
  ['00080094', 'X'], // Referring Physician's Telephone Numbers
  ['00080096', 'X'], // Referring Physician Identification Sequence
  ['0008009C', 'Z'], // Consulting Physician's Name
  ['0008009D', 'X'], // Consulting Physician Identification Sequence
  ['00080201', 'X'], // Timezone Offset From UTC
  ['00081010', 'D'], // Station Name (X/Z/D)
  ['00081030', 'X'], // Study Description
  ['0008103E', 'X'], // Series Description
  ['00081040', 'X'], // Institutional Department Name
  ['00081041', 'X'], // Institutional Department Type Code Sequence
  ['00081048', 'X'], // Physician(s) of Record
  ['00081049', 'X'], // Physician(s) of Record Identification Sequence
  ['00081050', 'X'], // Performing Physician's Name
  ['00081052', 'X'], // Performing Physician Identification Sequence
  ['00081060', 'X'], // Name of Physician(s) Reading Study
  ['00081062', 'X'], // Physician(s) Reading Study Identification Sequence
  ['00081070', 'D'], // Operators' Name (X/Z/D)
  ['00081072', 'X'], // Operator Identification Sequence (X/D)
  ['00081080', 'X'], // Admitting Diagnoses Description
  ['00081084', 'X'], // Admitting Diagnoses Code Sequence
  ['00081110', 'K'], // Referenced Study Sequence (X/Z: kept, its UIDs replaced)
  ['00081111', 'K'], // Referenced Performed Procedure Step Sequence (X/Z/D)
  ['00081120', 'X'], // Referenced Patient Sequence
  ['00081140', 'K'], // Referenced Image Sequence (X/Z/U*)
  ['00081155', 'U'], // Referenced SOP Instance UID
  ['00081195', 'U'], // Transaction UID
  ['00082111', 'X'], // Derivation Description
  ['00082112', 'K'], // Source Image Sequence (X/Z/U*)
  ['00084000', 'X'], // Identifying Comments
  ['00089123', 'U'], // Creator-Version UID
  ['00080017', 'U'], // Acquisition UID
  ['00083010', 'U'], // Irradiation Event UID
  // patient
  ['00100010', 'D'], // Patient's Name (Z; a pseudonym is written, see deidentify.ts)
  ['00100020', 'D'], // Patient ID (Z; a pseudonym)
  ['00100021', 'X'], // Issuer of Patient ID
  ['00100024', 'X'], // Issuer of Patient ID Qualifiers Sequence
  ['00100030', 'Z'], // Patient's Birth Date
  ['00100032', 'X'], // Patient's Birth Time
  ['00100040', 'Z'], // Patient's Sex
  ['00100050', 'X'], // Patient's Insurance Plan Code Sequence
  ['00100101', 'X'], // Patient's Primary Language Code Sequence
  ['00100102', 'X'], // Patient's Primary Language Modifier Code Sequence
  ['00101000', 'X'], // Other Patient IDs
  ['00101001', 'X'], // Other Patient Names
  ['00101002', 'X'], // Other Patient IDs Sequence
  ['00101005', 'X'], // Patient's Birth Name
  ['00101010', 'X'], // Patient's Age
  ['00101020', 'X'], // Patient's Size
  ['00101030', 'X'], // Patient's Weight
  ['00101040', 'X'], // Patient's Address
  ['00101050', 'X'], // Insurance Plan Identification
  ['00101060', 'X'], // Patient's Mother's Birth Name
  ['00101080', 'X'], // Military Rank
  ['00101081', 'X'], // Branch of Service
  ['00101090', 'X'], // Medical Record Locator
  ['00101100', 'X'], // Referenced Patient Photo Sequence
  ['00102000', 'X'], // Medical Alerts
  ['00102110', 'X'], // Allergies
  ['00102150', 'X'], // Country of Residence
  ['00102152', 'X'], // Region of Residence
  ['00102154', 'X'], // Patient's Telephone Numbers
  ['00102155', 'X'], // Patient's Telecom Information
  ['00102160', 'X'], // Ethnic Group
  ['00102180', 'X'], // Occupation
  ['001021A0', 'X'], // Smoking Status
  ['001021B0', 'X'], // Additional Patient History
  ['001021C0', 'X'], // Pregnancy Status
  ['001021D0', 'X'], // Last Menstrual Date
  ['001021F0', 'X'], // Patient's Religious Preference
  ['00102203', 'Z'], // Patient's Sex Neutered (X/Z)
  ['00102297', 'X'], // Responsible Person
  ['00102299', 'X'], // Responsible Organization
  ['00104000', 'X'], // Patient Comments
  // acquisition and equipment
  ['00180010', 'D'], // Contrast/Bolus Agent (Z/D)
  ['00181000', 'D'], // Device Serial Number (X/Z/D)
  ['00181002', 'U'], // Device UID
  ['00181004', 'X'], // Plate ID
  ['00181005', 'X'], // Generator ID
  ['00181007', 'X'], // Cassette ID
  ['00181008', 'X'], // Gantry ID
  ['00181012', 'X'], // Date of Secondary Capture
  ['00181014', 'X'], // Time of Secondary Capture
  ['00181030', 'D'], // Protocol Name (X/D)
  ['00181200', 'X'], // Date of Last Calibration
  ['00181201', 'X'], // Time of Last Calibration
  ['00181400', 'D'], // Acquisition Device Processing Description (X/D)
  ['00184000', 'X'], // Acquisition Comments
  ['0018700A', 'D'], // Detector ID (X/D)
  ['00189424', 'X'], // Acquisition Protocol Description
  ['00189516', 'D'], // Start Acquisition DateTime (X/D)
  ['00189517', 'D'], // End Acquisition DateTime (X/D)
  ['0018A003', 'X'], // Contribution Description
  // frame of reference, image
  ['0020000D', 'U'], // Study Instance UID
  ['0020000E', 'U'], // Series Instance UID
  ['00200010', 'Z'], // Study ID
  ['00200052', 'U'], // Frame of Reference UID
  ['00200200', 'U'], // Synchronization Frame of Reference UID
  ['00203401', 'X'], // Modifying Device ID
  ['00203404', 'X'], // Modifying Device Manufacturer
  ['00203406', 'X'], // Modified Image Description
  ['00204000', 'X'], // Image Comments
  ['00209158', 'X'], // Frame Comments
  ['00209161', 'U'], // Concatenation UID
  ['00209164', 'U'], // Dimension Organization UID
  ['00281199', 'U'], // Palette Color Lookup Table UID
  ['00281214', 'U'], // Large Palette Color Lookup Table UID
  ['00284000', 'X'], // Image Presentation Comments
  // study / visit / request
  ['00320012', 'X'], // Study ID Issuer
  ['00321020', 'X'], // Scheduled Study Location
  ['00321021', 'X'], // Scheduled Study Location AE Title
  ['00321030', 'X'], // Reason for Study
  ['00321032', 'X'], // Requesting Physician
  ['00321033', 'X'], // Requesting Service
  ['00321060', 'Z'], // Requested Procedure Description (X/Z)
  ['00321070', 'X'], // Requested Contrast Agent
  ['00324000', 'X'], // Study Comments
  ['00380004', 'X'], // Referenced Patient Alias Sequence
  ['00380010', 'X'], // Admission ID
  ['00380011', 'X'], // Issuer of Admission ID
  ['00380014', 'X'], // Issuer of Admission ID Sequence
  ['0038001E', 'X'], // Scheduled Patient Institution Residence
  ['00380020', 'X'], // Admitting Date
  ['00380021', 'X'], // Admitting Time
  ['00380040', 'X'], // Discharge Diagnosis Description
  ['00380050', 'X'], // Special Needs
  ['00380060', 'X'], // Service Episode ID
  ['00380061', 'X'], // Issuer of Service Episode ID
  ['00380062', 'X'], // Service Episode Description
  ['00380300', 'X'], // Current Patient Location
  ['00380400', 'X'], // Patient's Institution Residence
  ['00380500', 'X'], // Patient State
  ['00384000', 'X'], // Visit Comments
  // procedure steps, requests, results
  ['00400001', 'X'], // Scheduled Station AE Title
  ['00400002', 'X'], // Scheduled Procedure Step Start Date
  ['00400003', 'X'], // Scheduled Procedure Step Start Time
  ['00400004', 'X'], // Scheduled Procedure Step End Date
  ['00400005', 'X'], // Scheduled Procedure Step End Time
  ['00400006', 'X'], // Scheduled Performing Physician's Name
  ['00400007', 'X'], // Scheduled Procedure Step Description
  ['0040000B', 'X'], // Scheduled Performing Physician Identification Sequence
  ['00400010', 'X'], // Scheduled Station Name
  ['00400011', 'X'], // Scheduled Procedure Step Location
  ['00400012', 'X'], // Pre-Medication
  ['00400241', 'X'], // Performed Station AE Title
  ['00400242', 'X'], // Performed Station Name
  ['00400243', 'X'], // Performed Location
  ['00400244', 'X'], // Performed Procedure Step Start Date
  ['00400245', 'X'], // Performed Procedure Step Start Time
  ['00400250', 'X'], // Performed Procedure Step End Date
  ['00400251', 'X'], // Performed Procedure Step End Time
  ['00400253', 'X'], // Performed Procedure Step ID
  ['00400254', 'X'], // Performed Procedure Step Description
  ['00400275', 'X'], // Request Attributes Sequence
  ['00400280', 'X'], // Comments on the Performed Procedure Step
  ['00400555', 'X'], // Acquisition Context Sequence
  ['00401001', 'X'], // Requested Procedure ID
  ['00401004', 'X'], // Patient Transport Arrangements
  ['00401005', 'X'], // Requested Procedure Location
  ['00401010', 'X'], // Names of Intended Recipients of Results
  ['00401011', 'X'], // Intended Recipients of Results Identification Sequence
  ['00401101', 'X'], // Person Identification Code Sequence
  ['00401102', 'X'], // Person's Address
  ['00401103', 'X'], // Person's Telephone Numbers
  ['00401104', 'X'], // Person's Telecom Information
  ['00401400', 'X'], // Requested Procedure Comments
  ['00402001', 'X'], // Reason for the Imaging Service Request
  ['00402008', 'X'], // Order Entered By
  ['00402009', 'X'], // Order Enterer's Location
  ['00402010', 'X'], // Order Callback Phone Number
  ['00402011', 'X'], // Order Callback Telecom Information
  ['00402016', 'Z'], // Placer Order Number / Imaging Service Request
  ['00402017', 'Z'], // Filler Order Number / Imaging Service Request
  ['00402400', 'X'], // Imaging Service Request Comments
  ['00403001', 'X'], // Confidentiality Constraint on Patient Data Description
  ['00404023', 'U'], // Referenced General Purpose Scheduled Procedure Step Transaction UID
  ['0040A027', 'X'], // Verifying Organization
  ['0040A030', 'D'], // Verification DateTime
  ['0040A073', 'Z'], // Verifying Observer Sequence (D: an empty sequence)
  ['0040A075', 'D'], // Verifying Observer Name
  ['0040A078', 'X'], // Author Observer Sequence
  ['0040A07A', 'X'], // Participant Sequence
  ['0040A07C', 'X'], // Custodial Organization Sequence
  ['0040A088', 'Z'], // Verifying Observer Identification Code Sequence
  ['0040A123', 'D'], // Person Name
  ['0040A124', 'U'], // UID
  ['0040A730', 'X'], // Content Sequence (structured report content)
  ['0040DB0C', 'U'], // Template Extension Organization UID
  ['0040DB0D', 'U'], // Template Extension Creator UID
  ['00700084', 'Z'], // Content Creator's Name
  ['00700086', 'X'], // Content Creator's Identification Code Sequence
  ['00880140', 'U'], // Storage Media File-set UID
  ['00880200', 'X'], // Icon Image Sequence (a thumbnail may show burned-in text)
  ['00880904', 'X'], // Topic Title
  ['00880906', 'X'], // Topic Subject
  ['00880910', 'X'], // Topic Author
  ['00880912', 'X'], // Topic Keywords
  ['30060024', 'U'], // Referenced Frame of Reference UID
  ['300600C2', 'U'], // Related Frame of Reference UID
  ['04000100', 'X'], // Digital Signature UID
  ['04000402', 'X'], // Referenced Digital Signature Sequence
  ['04000403', 'X'], // Referenced SOP Instance MAC Sequence
  ['04000404', 'X'], // MAC
  ['04000550', 'X'], // Modified Attributes Sequence
  ['04000561', 'X'], // Original Attributes Sequence
  ['FFFAFFFA', 'X'], // Digital Signatures Sequence
  ['FFFCFFFC', 'X'], // Data Set Trailing Padding
]);

/** The action for one attribute, including the group-wide rules of the profile. */
export function profileAction(tag: number): ProfileAction {
  const group = tag >>> 16;
  if (group % 2 === 1) return 'X'; // private attributes
  if ((tag & 0xffff) === 0) return 'X'; // group lengths (retired): they would no longer be true
  if ((group & 0xff00) === 0x5000 || (group & 0xff00) === 0x6000) return 'X'; // curves, overlays (their text and bitmaps)
  return BASIC_PROFILE.get(tag.toString(16).toUpperCase().padStart(8, '0')) ?? 'K';
}
